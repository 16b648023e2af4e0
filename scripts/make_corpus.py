"""Generate the embedded demo pretraining corpus (customer-service theme, English and Chinese).

Usage:
    python scripts/make_corpus.py [--out PATH] [--seed N]

The output is a gzipped JSONL file, one ``{"text": ...}`` document per line.
The same seed always produces a byte-identical file.
"""

# Template sentences are kept one per line so they are easy to read and edit.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import random
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "alignkit" / "assets" / "corpus.jsonl.gz"
DEFAULT_SEED = 20240611
TARGET_BYTES = 3_200_000
TOPICS = ("account", "order", "billing", "delivery", "returns")
CN_NUM = "零一二三四五六七八九十"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")

# ---------------------------------------------------------------------------
# Slot values
# ---------------------------------------------------------------------------

EN_SLOTS = dict(
    shop=["Northwind Market", "Lumen Store", "Harbor & Pine", "Bluefinch Goods", "Maple Lane Shop",
          "Copperleaf Outlet", "Tidewater Supply", "Brightnest Home", "Juniper & Co.", "Quayside Living"],
    agent=["Maya", "Daniel", "Priya", "Tom", "Lena", "Sam", "Ines", "Omar", "Rosa", "Kenji", "Clara", "Felix"],
    name=["Emma", "Liam", "Sofia", "Noah", "Aisha", "Lucas", "Chloe", "Mateo", "Hannah", "Ravi", "Grace",
          "Tomas", "Isla", "Ethan", "Yuki", "Amara", "Jonas", "Freya", "Samuel", "Nadia"],
    product=["wireless earbuds", "ceramic teapot", "running shoes", "wool blanket", "desk lamp", "hiking backpack",
             "countertop blender", "phone case", "yoga mat", "cast-iron pan", "rain jacket", "fitness watch",
             "coffee grinder", "oak bookshelf", "children's raincoat", "cotton bedsheet set", "steel water bottle",
             "electric kettle", "office chair", "mechanical keyboard", "linen shirt", "table fan",
             "bathroom scale", "picture frame set", "garden hose", "baby monitor"],
    city=["Leeds", "Portland", "Melbourne", "Toronto", "Dublin", "Austin", "Bristol", "Auckland", "Glasgow",
          "Denver", "Cardiff", "Halifax"],
    street=["14 Elm Street", "27 Station Road", "5 Harbour View", "88 Willow Lane", "3 Mill Court",
            "41 Cedar Avenue", "19 Orchard Close", "62 Bridge Street", "7 Kingfisher Way"],
    courier=["SwiftPost", "Parcelwing", "RiverRun Express", "Bluebird Courier", "Lanternline Logistics",
             "Trailhead Delivery", "Kestrel Post"],
    plan=["Plus membership", "Premium plan", "Fast Delivery Pass", "annual membership", "Gold membership"],
    hours=["8 am to 8 pm", "9 am to 9 pm", "8 am to 10 pm", "9 am to 6 pm", "7 am to 11 pm"],
    refund_days=["3 to 5", "5 to 7", "3 to 10", "5 to 10", "2 to 5"],
    delivery_option=["Standard delivery", "Express delivery", "Tracked standard delivery",
                     "Collection from a pickup point", "Standard delivery, free over the threshold"],
    device=["Laptop, web browser", "Mobile phone, shop app", "Tablet, web browser", "Desktop computer, web browser"],
    reason=["Bad weather has slowed down deliveries in your area.",
            "The courier is handling an unusually high number of parcels this week.",
            "One of the items took longer to reach our warehouse than we expected.",
            "The parcel missed a connection at the courier's sorting centre.",
            "A road closure near the regional depot has held up several deliveries."],
)

ZH_SLOTS = dict(
    shop=["云杉商城", "青禾优选", "星河小铺", "橙子生活馆", "远山好物", "蓝湾百货", "木棉家居", "白桦数码", "小满优品"],
    agent=["小林", "小周", "小雨", "阿杰", "小陈", "小唐", "小吴", "小安", "小夏", "阿宁"],
    name=["王女士", "李先生", "张女士", "刘先生", "陈女士", "杨先生", "赵女士", "黄先生", "周女士", "吴先生",
          "孙女士", "郑先生"],
    pinyin=["wangfang", "lijing", "zhangwei", "liuyang", "chenxi", "yangmin", "zhaolei", "huangting", "zhoujie",
            "wuqian", "sunyue", "zhenghao"],
    product=["无线耳机", "陶瓷茶壶", "跑步鞋", "羊毛毯", "护眼台灯", "双肩包", "破壁机", "手机壳", "瑜伽垫", "铸铁锅",
             "冲锋衣", "运动手环", "咖啡研磨机", "实木书架", "儿童雨衣", "纯棉四件套", "保温杯", "电热水壶", "人体工学椅",
             "机械键盘", "亚麻衬衫", "空气炸锅", "体脂秤", "加湿器", "电动牙刷", "行李箱"],
    city=["杭州", "成都", "武汉", "西安", "南京", "苏州", "长沙", "青岛", "厦门", "昆明", "合肥", "郑州", "宁波", "天津"],
    street=["建设路18号", "文一西路96号", "长江路5号", "解放大道120号", "人民南路45号", "中山北路233号",
            "滨江路8号", "学府街66号", "湖滨路12号"],
    courier=["飞鸿快递", "青鸟速运", "云途物流", "迅羚快递", "长风速递", "白鹭物流", "星驰快运"],
    plan=["年度会员", "Plus会员", "包邮卡", "超级会员", "月度会员"],
    hours=["9:00-21:00", "8:30-22:00", "9:00-18:00", "8:00-23:00"],
    refund_days=["3-5", "5-7", "3-10", "1-3", "5-10"],
    delivery_option=["标准配送", "加急配送", "自提点取件", "送货上门"],
    device=["笔记本电脑（网页浏览器）", "手机（商城App）", "平板电脑（网页浏览器）", "台式电脑（网页浏览器）"],
    reason=["受近期天气影响，您所在地区的配送有所延迟。", "本周快递公司包裹量激增，派送速度有所放缓。",
            "订单中有一件商品调货时间比预期长。", "包裹在快递公司的分拣中心错过了一班转运车。",
            "区域转运中心附近道路临时管制，部分包裹受到影响。"],
)

# ---------------------------------------------------------------------------
# English templates
# ---------------------------------------------------------------------------

EN_ISSUES = [
    dict(key="reset_password", topic="account",
         titles=["How to reset your password", "Forgot your password? Here's how to get back in"],
         questions=["I forgot my password. How do I reset it?", "Can your team tell me my current password?"],
         asks=["I can't remember my password and the reset email never arrived.", "I've been trying to log in for ages and it keeps saying my password is wrong."],
         explain=["If you've forgotten your password, you can choose a new one yourself in a few minutes. For your security, our team can't see or send you your current password, but we can help if the reset email doesn't arrive.",
                  "Passwords are stored in encrypted form, so nobody at {shop} can look them up. The quickest way back into your account is to request a reset link and set a new password."],
         steps=[["Open the sign-in page on the {shop} website or app.", "Go to the {shop} sign-in page in your browser or open the app."],
                ["Select “Forgot password?” below the password field.", "Tap “Forgot password?” under the sign-in button."],
                "Enter the email address you used to create your account and submit the form.",
                ["Open the email from {shop} and select the reset link within {link_minutes} minutes.", "Check your inbox for our email and follow the link inside. It stays valid for {link_minutes} minutes."],
                "Choose a new password with at least 10 characters and confirm it.", "Sign in with your new password. You may be asked to confirm a code sent to your phone."],
         notes=["If the email doesn't arrive within 10 minutes, check your spam or junk folder and make sure you typed the address correctly. Some workplace email systems hold messages for a while before delivering them.",
                "Requesting a new link cancels all earlier links, so always use the most recent email.", "For extra safety, avoid reusing a password you've used on other websites."],
         actions=["I've sent a fresh reset link to {email}. It's valid for {link_minutes} minutes, so please use it soon.",
                  "I can see that the last two reset emails went to an old address. I've updated it to {email} and sent a new link."]),
    dict(key="two_factor", topic="account",
         titles=["Not receiving your two-factor code", "Troubleshooting sign-in verification codes"],
         questions=["Why does my two-factor code say it's invalid?", "My verification code never arrives. What can I do?"],
         asks=["I'm not getting the text message with the login code.", "Every time I enter the verification code it says it's expired."],
         explain=["When two-factor sign-in is on, we send a six-digit code each time you sign in from a new device. Codes are valid for {code_minutes} minutes and can only be used once.",
                  "Most code problems are caused by a weak mobile signal, a blocked sender or an old phone number on the account. The steps below fix the majority of cases."],
         steps=["Check that your phone has signal and isn't in airplane mode.",
                ["Wait at least 60 seconds before asking for a new code, so the messages don't overlap.", "Give the message a minute to arrive before you select “Resend code”."],
                "Make sure the time on your phone is set automatically. An authenticator app with the wrong time creates codes that don't match.",
                "Enter the newest code only. Requesting a new code cancels the previous one.",
                ["If you still have no code, choose “Try another way” and use one of your backup codes.", "If nothing arrives, select “Use a backup code” and enter one of the codes you saved when you set up two-factor sign-in."]],
         notes=["If you've lost access to the phone number ending in {phone_tail}, contact us and we'll verify your identity before updating it. This usually takes one working day.",
                "Some mobile carriers filter messages sent from short numbers. Asking your carrier to allow messages from {shop} often helps."],
         actions=["I can see the codes were going to the number ending in {phone_tail}. Now that I've verified your identity, I've switched your sign-in codes to email for the time being.",
                  "I've reset two-factor sign-in on your account. The next time you log in, you'll be asked to set it up again."]),
    dict(key="locked_account", topic="account",
         titles=["Why is my account locked?", "Unlocking your account after too many sign-in attempts"],
         questions=["How long does an account lock last?", "Will I lose my orders if my account is locked?"],
         asks=["My account has been locked and I have no idea why.", "It says my account is temporarily locked after I tried my password a few times."],
         explain=["To protect you, we lock an account for {lock_minutes} minutes after several unsuccessful sign-in attempts in a row. We may also lock it if we notice activity that doesn't look like yours.",
                  "A lock doesn't delete anything. Your orders, addresses and saved payment methods are all still there, and they'll be available as soon as you're back in."],
         steps=["Wait {lock_minutes} minutes before you try again. Further attempts during that time restart the timer.", "If you're not sure of your password, reset it instead of guessing.",
                "Open the email we sent about the lock and select “This was me” or “This wasn't me”.",
                ["If you chose “This wasn't me”, set a new password straight away and review your recent orders.", "If you didn't try to sign in, change your password immediately and check your recent orders and addresses for changes."]],
         notes=["If you see orders or address changes you don't recognise, reply to the lock email or contact us through live chat and we'll secure the account with you.",
                "We'll never ask for your full password or card number by phone, chat or email."],
         actions=["I've confirmed your identity and lifted the lock. You can sign in now, and I'd recommend setting a new password while you're there.",
                  "The lock was triggered by sign-in attempts from {city}. As a precaution, I've kept it in place and sent you a secure link to set a new password."]),
    dict(key="change_email", topic="account",
         titles=["Changing the email address on your account", "How to update your sign-in email"],
         questions=["Will my order history move to my new email address?", "Why do I have to confirm my new email address?"],
         asks=["I need to change my email because I don't use my old one any more.", "Can you help me switch my account to a new email address?"],
         explain=["You can change your email address from your account settings at any time. Your order history, saved addresses and store credit all stay with the account.",
                  "Your email address is used for signing in and for order updates, so we ask you to confirm the new address before the change takes effect."],
         steps=["Sign in and open “Account settings”.", ["Select “Email address” and then “Change”.", "Go to “Personal details” and choose “Edit” next to your email."],
                "Enter your new address and your current password.", "We'll send a confirmation link to the new address. Open it within 24 hours to finish the change.",
                "You'll also get a notice at your old address, just so you know the change happened."],
         notes=["If you can no longer access your old email and can't sign in, our support team can verify your identity using a recent order number and the last four digits of your payment card.",
                "Newsletters follow the new address automatically, but you can adjust them under “Communication preferences”."],
         actions=["I've sent a verification link to your new address. As soon as you open it, the change will be complete.",
                  "Thanks for confirming order {order}. I've updated your sign-in email to {email}."]),
    dict(key="change_phone", topic="account",
         titles=["Updating your phone number", "Changing the mobile number used for verification"],
         questions=["Why should I keep my phone number up to date?", "I got a new number. How do I keep receiving sign-in codes?"],
         asks=["I changed my phone number and now I can't get the login codes.", "How do I update the mobile number on my account?"],
         explain=["Your phone number is used for delivery updates and, if you've turned it on, for two-factor sign-in codes. Keeping it current helps couriers reach you and keeps your account secure.",
                  "You can add a new number first and then remove the old one, so you're never left without a way to receive codes."],
         steps=["Sign in and go to “Account settings”, then “Security”.", "Select “Phone number” and choose “Add a new number”.", "Enter the new number with the country code and tap “Send code”.",
                "Type in the six-digit code we text you to confirm the number.", "Once the new number is confirmed, remove the old one ending in {phone_tail}."],
         notes=["If you no longer have the old phone, select “I can't access this number” and we'll check your identity by email before making the change.",
                "Delivery updates for orders that have already shipped may still go to the old number, because the courier received it when the parcel left our warehouse."],
         actions=["I've added a note to your account so that our security team can change the number for you. You'll get an email within one working day.",
                  "Your new number is now confirmed, and I've removed the old one ending in {phone_tail}."]),
    dict(key="place_order", topic="order", info="account",
         titles=["How to place an order", "Placing your first order with {shop}"],
         questions=["Do I need an account to place an order?", "How do I know my order went through?"],
         asks=["I'm trying to place an order but I'm not sure it went through.", "I placed an order as a guest and I'm not sure it worked. Can you check?"],
         explain=["You can shop as a guest or with an account. An account makes it easier to track orders, save addresses and start returns, but it isn't required.",
                  "As soon as your order is placed, you'll see a confirmation page with an order number, and we'll email the same details to you within a few minutes."],
         steps=["Add the items you want to your basket and select “Checkout”.", "Sign in, create an account, or continue as a guest.", "Enter your delivery address and choose a delivery option.",
                ["Choose how you'd like to pay and check the order summary.", "Pick a payment method, then review the items, delivery cost and total."],
                "Select “Place order”. Your order number will appear on the next screen."],
         notes=["If you don't get a confirmation email within 30 minutes, check your spam folder before placing the order again, so you don't end up with two orders.",
                "Orders over {free_ship} qualify for free standard delivery."],
         actions=["I can see order {order}, placed on {order_date}, so everything went through. The confirmation email was sent to {email}.",
                  "The payment didn't complete, so no order was created and you haven't been charged. You're welcome to try again."]),
    dict(key="change_order", topic="order",
         titles=["Changing an order after you've placed it", "Can I edit my order?"],
         questions=["Can I change the size or colour after ordering?", "Can I add an item to an order I've already placed?"],
         asks=["I ordered the wrong size. Can I change it before it ships?", "I chose the wrong colour. Is it too late to change it?"],
         explain=["We start packing orders quickly, so changes are only possible while the order status shows “Received”. Once it moves to “Being prepared”, the order can no longer be edited.",
                  "While you can still edit an order, you can change sizes, colours and quantities. Adding new items isn't possible, but you can place a second order and we'll try to send both together."],
         steps=["Go to “My orders” and open order {order}.", "If you see “Edit order”, select it. If you don't, the order is already being prepared.", "Make your changes and select “Save”.",
                "Check the updated total. If it has gone up, we'll charge the difference; if it has gone down, we'll refund it to your original payment method."],
         notes=["If the order can no longer be changed, you can return or exchange the item once it arrives. Returns are free within {return_days} days.",
                "Changes to the delivery address follow different rules. See “Changing your delivery address” for details."],
         actions=["Good news: order {order} hadn't been packed yet, so I've made the change for you. The total stays the same.",
                  "I'm sorry, the order has already been packed and I can't change it any more. Once it arrives, you can exchange it for free within {return_days} days."]),
    dict(key="cancel_order", topic="order",
         titles=["How to cancel an order", "Cancelling an order and getting your money back"],
         questions=["How do I cancel my order?", "I cancelled my order. When will I get my money back?"],
         asks=["I'd like to cancel my order, please. I found the item cheaper somewhere else.", "I placed an order by mistake and need to cancel it."],
         explain=["You can cancel an order yourself as long as it hasn't been shipped. Once it's on its way, you can refuse the delivery or return it for a full refund instead.",
                  "When you cancel, we release the payment straight away. Depending on your bank, it can take {refund_days} business days before the money appears in your account."],
         steps=["Open “My orders” and select the order you want to cancel.", ["Select “Cancel order” and choose a reason from the list.", "Tap “Cancel order” and tell us briefly why."],
                "If the order has several items, choose whether to cancel everything or only some of them.", "Confirm the cancellation. You'll receive an email as soon as it's processed."],
         notes=["If the “Cancel order” button isn't there, the order has already been handed to the courier. You can still return it once it arrives.",
                "Cancelled orders paid with a gift card are refunded to the gift card straight away."],
         actions=["I've cancelled order {order} for you. The refund of {amount} has been issued and should reach your account within {refund_days} business days.",
                  "Order {order} was shipped this morning with {courier}, so I can't cancel it now. When it arrives, you can return it using the free label in your account."]),
    dict(key="order_status", topic="order",
         titles=["What does my order status mean?", "Understanding order statuses"],
         questions=["What are the different order statuses?", "My order has been “Processing” for two days. Is something wrong?"],
         asks=["My order has said “processing” for days. Is it actually coming?", "Can you tell me where my order is?"],
         explain=["Every order moves through a few stages: Received, Being prepared, Shipped and Delivered. You can see the current stage at any time under “My orders”.",
                  "Most orders move from “Received” to “Shipped” within two working days. Large items and made-to-order products can take longer, and their product pages say so."],
         lead="Here's what each status means:",
         steps=["Received: we have your order and the payment has been approved.", "Being prepared: the item is being picked and packed at our warehouse.",
                "Shipped: the parcel is with the courier, and a tracking number is available.", "Out for delivery: the courier expects to deliver it today.",
                "Delivered: the courier has marked the parcel as delivered."],
         notes=["If your order has stayed at the same stage for more than three working days, contact us and we'll check with the warehouse.",
                "Orders containing several items may ship in more than one parcel. Each parcel gets its own tracking number."],
         actions=["Order {order} is being prepared at our warehouse and should ship by {ship_date}. You'll get a tracking link by email as soon as it leaves.",
                  "I checked with the warehouse, and order {order} was held up because one item had to come from another location. It's now packed and will be collected today."]),
    dict(key="unknown_charge", topic="billing", info="charge",
         titles=["I don't recognise a charge", "Checking a charge on your statement"],
         questions=["There's a charge from {shop} that I don't recognise. What is it?", "Why was I charged before my order shipped?"],
         asks=["There's a charge of {amount} on my card and I don't know what it's for.", "I can see a payment to {shop} on my statement, but I didn't order anything this week."],
         explain=["Charges from {shop} appear on your statement with the order number, so they're usually easy to match. Common reasons for an unfamiliar charge are a subscription renewal, an order placed by someone else in your household, or a temporary authorisation.",
                  "When you place an order, your bank may hold the amount for a few days before the final charge appears. If the order is cancelled, the hold disappears on its own."],
         steps=["Look at the statement description and note the order number after “{shop}”.", "Sign in and search for that number under “My orders”.",
                "If nothing matches, check “Subscriptions” to see whether a plan was renewed.", "Ask anyone who shares the card or the account whether they placed an order."],
         notes=["If you still don't recognise the charge, contact us with the date and amount. We'll investigate and, if the payment wasn't made by you, secure your account and refund it.",
                "Pending amounts usually drop off within seven days. Your bank can confirm whether a line is a hold or a final charge."],
         actions=["That charge is the renewal of your {plan} on {order_date}. Since you haven't used any of the benefits yet, I've cancelled it and refunded the full amount.",
                  "The {amount} is a temporary hold for order {order}. It will be replaced by the final charge when the order ships, so you won't pay twice."]),
    dict(key="double_charge", topic="billing",
         titles=["I was charged twice", "What to do if you see a duplicate payment"],
         questions=["Why was I charged twice for one order?", "Will a duplicate charge be refunded automatically?"],
         asks=["I've been charged twice for the same order. Can you fix this?", "My bank shows two payments of {amount}, but I only placed one order."],
         explain=["Seeing two payments can be worrying. Often, one of them is a temporary authorisation that your bank will release on its own within a few days, and only one charge is actually collected.",
                  "Occasionally a payment is taken twice when the checkout page is refreshed or submitted twice. When that happens, we refund the extra payment as soon as we spot it."],
         steps=["Check whether one of the two payments is marked as “pending”. Pending amounts usually disappear within {hold_days} days.",
                "Go to “My orders” and confirm that only one order was placed.", "If you find two orders, cancel the one you don't need before it ships.",
                "If both payments are final and there's only one order, contact us with the order number and the dates of both charges."],
         notes=["Once we confirm a duplicate charge, we refund it within one working day. Your bank may take a few more days to show it.",
                "Please don't open a dispute with your bank at the same time, as that can slow the refund down."],
         actions=["You're right, the payment for order {order} was taken twice. I've refunded the extra {amount}, and you'll see it within {refund_days} business days.",
                  "I can see only one charge on our side. The second line on your statement is a hold that your bank will release by {eta}."]),
    dict(key="invoice", topic="billing",
         titles=["Downloading an invoice", "How to get an invoice or receipt for your order"],
         questions=["Where can I find the invoice for my order?", "Can I get an invoice with my company name on it?"],
         asks=["I need an invoice for my order for work. Where can I find it?", "Can you send me an invoice with my company details?"],
         explain=["An invoice is created for every order once it ships. You can download it as a PDF from your account at any time.",
                  "If you need a company name or tax number on the invoice, you can add them before downloading. Changes are possible for up to 90 days after the order date."],
         steps=["Sign in and go to “My orders”.", "Open order {order} and select “Invoice”.", "To add company details, choose “Edit billing details”, enter the company name and tax number, and save.",
                "Select “Download PDF”. The file will be saved to your device."],
         notes=["If your order shipped in more than one parcel, you'll see an invoice for each parcel.", "Invoices for guest orders can be requested through the link in your confirmation email."],
         actions=["I've regenerated the invoice for order {order} with your company name and sent it to {email}.",
                  "The invoice will be available as soon as the order ships, which should be on {ship_date}. I've added a note so that it's emailed to you automatically."]),
    dict(key="payment_method", topic="billing", info="account", paired=True,
         titles=["Updating your payment method", "Why was my payment declined?"],
         questions=["Which payment methods do you accept?", "My payment was declined. What should I do?"],
         asks=["My payment keeps getting declined at checkout.", "I got a new card and need to update it for my subscription."],
         explain=["We accept debit and credit cards, gift cards, store credit and several digital wallets. You can save more than one method and choose a default.",
                  "A payment is usually declined by the card issuer, not by us. Common reasons are an expired card, a billing address that doesn't match, or a security check from your bank."],
         steps=["Go to “Account settings” and open “Payment methods”.", "Select “Add a payment method” and enter the new card details.",
                "Make sure the billing address matches the one your bank has on file.", "Set the new card as your default, then remove the old one ending in {card_tail} if you no longer need it.",
                "If a payment was declined, try again after checking the details, or contact your bank to approve the payment."],
         notes=["Updating your default card also updates active subscriptions, so your next renewal will use the new card.",
                "For your security, we never see your full card number, and our team can't enter card details for you."],
         actions=["I can see the last attempt was declined by your bank for a security check. Once you've approved it with them, you can place the order again, and the items in your basket will still be there.",
                  "I've checked your account, and your subscription is now linked to the new card. Nothing else needs to be done."]),
    dict(key="subscription", topic="billing", info="account", paired=True,
         titles=["Managing or cancelling your subscription", "How to cancel your {plan}"],
         questions=["How do I cancel my subscription?", "Will I get a refund if I cancel my membership?"],
         asks=["I want to cancel my {plan} before it renews.", "I didn't mean to sign up for a subscription. Can I cancel it?"],
         explain=["You can cancel your {plan} at any time. Your benefits continue until the end of the period you've already paid for, and you won't be charged again.",
                  "If you cancel within 14 days of being charged and haven't used any benefits, we'll refund the full {plan_price}."],
         steps=["Sign in and open “Subscriptions” in your account.", "Select your {plan} and choose “Manage”.", "Select “Cancel subscription” and confirm.",
                "You'll receive an email confirming the date your benefits end."],
         notes=["If you'd rather take a break, you can pause the subscription for up to three months instead of cancelling it.",
                "Subscriptions bought through an app store must be cancelled in that store's settings."],
         actions=["I've cancelled your {plan}. Your benefits continue until {eta}, and you won't be charged again.",
                  "Since the renewal on {order_date} hasn't been used, I've cancelled the plan and refunded {plan_price} to your card ending in {card_tail}."]),
    dict(key="refund_timing", topic="billing",
         titles=["When will I get my refund?", "How refunds work"],
         questions=["How long does a refund take?", "My refund was approved, but I can't see it yet. Why?"],
         asks=["My refund was approved a week ago, but the money isn't in my account yet.", "How long will it take to get my money back?"],
         explain=["We send refunds to the original payment method as soon as they're approved. After that, it's up to your bank: most cards show the refund within {refund_days} business days.",
                  "Refunds to store credit or a gift card are available instantly. Refunds to a card can take longer because banks process them in batches."],
         steps=["Check the refund email we sent. It shows the amount and the date we issued it.", "Look for the refund on your statement under the name {shop}, not under the original order.",
                "If it has been more than {refund_days} business days, ask your bank about the refund, quoting the reference number in our email.",
                "If your bank can't find it, contact us and we'll send you a confirmation from our payment provider."],
         notes=["If the card you paid with has been cancelled or replaced, your bank will normally move the refund to your new card automatically.",
                "Original delivery charges are refunded if the whole order is returned or if the item was faulty."],
         actions=["I can confirm that we issued a refund of {amount} on {ship_date}. The reference number is {tracking}, and your bank can use it to locate the payment.",
                  "The refund was issued today to your card ending in {card_tail}. It should appear within {refund_days} business days."]),
    dict(key="track_parcel", topic="delivery",
         titles=["Tracking your parcel", "Where is my order?"],
         questions=["How do I track my order?", "My tracking number doesn't work. Why?"],
         asks=["Can you tell me where my parcel is? I haven't had any updates.", "The tracking link says there's no information for my parcel."],
         explain=["As soon as your order ships, we email you a tracking number and a link to the courier's website. You can also follow the parcel under “My orders”.",
                  "It can take up to 24 hours for a new tracking number to show any information. That's normal: the courier scans the parcel when it arrives at the first depot."],
         steps=["Open the shipping email, or go to “My orders” and select order {order}.", "Select “Track parcel” to see the latest update from {courier}.",
                "If the page says “No information yet”, check again the next day.", "Turn on text updates to get a message when the parcel is out for delivery."],
         notes=["If there have been no tracking updates for more than three working days, let us know and we'll open an investigation with the courier.",
                "Your tracking number is {tracking}. You can also enter it directly on the {courier} website."],
         actions=["Your parcel left our warehouse on {ship_date} with {courier}, and it's now at their depot in {city}. It's expected to arrive on {eta}.",
                  "The tracking hasn't updated since {ship_date}, so I've asked {courier} to check where the parcel is. I'll email you with their answer within two working days."]),
    dict(key="delayed_delivery", topic="delivery",
         titles=["My delivery is late", "What to do if your order is delayed"],
         questions=["My order hasn't arrived by the expected date. What now?", "Why was my delivery date changed?"],
         asks=["My order was supposed to arrive on {eta} and it still hasn't come.", "The delivery date keeps moving. I need this item by the weekend."],
         explain=["We're sorry when a parcel is late. Most delays are caused by bad weather, high volumes at the courier or a missed scan, and the parcel usually arrives within a few days.",
                  "If the courier expects a delay, the estimated delivery date in your tracking will change. We'll email you if the new date is more than two days later than planned."],
         steps=["Check the latest tracking update for a new delivery date.", "Make sure the delivery address on the order is complete, including the flat or unit number.",
                "Wait two working days after the expected date, since most delayed parcels arrive within that time.",
                "If the parcel still hasn't arrived, contact us and we'll either send a replacement or refund you."],
         notes=["If you paid for express delivery and the parcel arrived late, we'll refund the delivery charge of {shipping_fee}.",
                "During public holidays and big sales events, deliveries can take one or two days longer than usual."],
         actions=["I've checked with {courier}, and the parcel was held at their {city} depot because of the weather. It's on its way again now, and the new delivery date is {new_eta}.",
                  "I'm sorry about the delay. Because you paid for express delivery, I've refunded the {shipping_fee} delivery charge, and the parcel should arrive on {new_eta}."]),
    dict(key="wrong_address", topic="delivery",
         titles=["Changing your delivery address", "I entered the wrong address"],
         questions=["Can I change the delivery address after placing my order?", "Can a parcel be redirected to any address?"],
         asks=["I put the wrong address on my order. Can you change it?", "I've just realised my order is going to my old flat."],
         explain=["You can change the delivery address as long as the order hasn't been shipped. After that, the courier may be able to redirect the parcel, depending on where it is.",
                  "For security reasons, we can only redirect a parcel within the same country, and only to an address saved in your account."],
         steps=["Go to “My orders” and open order {order}.", "If the order hasn't shipped, select “Change address” and pick or add the correct address.",
                "If it has shipped, open the tracking page and look for a “Redirect” or “Change delivery” option from {courier}.",
                "If no option is shown, contact us as soon as possible and we'll ask the courier to stop the parcel."],
         notes=["If a parcel comes back to us because of an incorrect address, we'll refund the order once it reaches our warehouse. Delivery charges aren't refunded in this case.",
                "It's worth checking that your saved addresses are up to date, so it doesn't happen again."],
         actions=["The order hadn't left the warehouse yet, so I've updated the address to the one in {city}. Delivery is still expected on {eta}.",
                  "The parcel is already with {courier}. I've asked them to return it to us, and as soon as it's back, I'll send it to your new address at no extra cost."]),
    dict(key="missing_parcel", topic="delivery",
         titles=["My parcel says delivered, but I don't have it", "Missing parcels"],
         questions=["Tracking says my order was delivered, but I haven't received it. What should I do?", "Why was my parcel marked as delivered before it arrived?"],
         asks=["The tracking says delivered, but there's nothing at my door.", "My parcel was marked as delivered yesterday and I can't find it anywhere."],
         explain=["We understand how frustrating this is. Parcels marked as delivered often turn up within a day: they may have been left in a safe place, with a neighbour or at a nearby pickup point.",
                  "Couriers sometimes mark a parcel as delivered a little early, when it's loaded into the van for the last stop. It's worth waiting until the end of the day."],
         steps=["Check around your property, including porches, sheds and recycling bins, and ask your neighbours.",
                "Look at the tracking page for a delivery photo or a note about where the parcel was left.", "Check your letterbox for a card from {courier} saying where the parcel can be collected.",
                "If it still hasn't turned up after 48 hours, contact us and we'll open an investigation with the courier."],
         notes=["An investigation usually takes up to five working days. If the parcel can't be found, we'll send a replacement or give you a full refund, whichever you prefer.",
                "We might ask you to confirm in writing that the parcel didn't arrive. This is a standard step with every courier."],
         actions=["I've opened an investigation with {courier} for order {order}. We'll update you within five working days, and if the parcel isn't found, we'll send you a new {product} at no cost.",
                  "The delivery photo shows the parcel at a green front door. If that isn't yours, it may be a neighbour's, so I've also asked the courier to check the GPS location of the delivery."]),
    dict(key="start_return", topic="returns",
         titles=["How to return an item", "Starting a return"],
         questions=["How long do I have to return an item?", "Are there items that can't be returned?"],
         asks=["I'd like to return the {product} I bought. It isn't quite what I expected.", "How do I send something back? I can't find the return label."],
         explain=["You can return most items within {return_days} days of delivery for a full refund, as long as they're unused and in their original packaging.",
                  "Some items can't be returned for hygiene reasons, such as earrings, underwear and opened personal care products. Their product pages say so clearly."],
         steps=["Go to “My orders” and select the item you want to send back.", "Select “Return item” and choose a reason.",
                ["Choose how you'd like to send it: drop it off at a {courier} point or have it collected from your door.", "Pick a return method. Drop-off is free; collection from your home costs {shipping_fee}."],
                "Print the return label, or show the QR code at the drop-off point if you don't have a printer.", "Pack the item securely, attach the label and send it within seven days."],
         notes=["Keep your drop-off receipt until your refund arrives. It's your proof that the parcel was sent.",
                "If the return window has only just passed, contact us anyway. We look at late returns case by case."],
         actions=["I've created the return for your {product}. The label has been sent to {email}, and you can drop the parcel off at any {courier} point.",
                  "Your order was delivered on {eta}, so you're still within the {return_days}-day return window. I've sent you a QR code to show at the drop-off point, so you won't need a printer."]),
    dict(key="exchange", topic="returns", paired=True,
         titles=["Exchanging an item", "How to swap for a different size or colour"],
         questions=["Can I exchange an item for a different size?", "Can I exchange an item for a different product?"],
         asks=["The {product} I ordered is too small. Can I swap it for a bigger size?", "I'd like to exchange my {product} for a different colour."],
         explain=["Exchanges are free and work much like returns. We send the new item as soon as the courier scans your return, so you don't have to wait for it to reach us.",
                  "You can exchange an item for a different size or colour of the same product. If you'd like a different product, return the item and place a new order."],
         steps=["Open “My orders” and select the item.", "Select “Exchange” and choose the new size or colour.", "Print the label or save the QR code, then drop the parcel off within seven days.",
                "We'll send your new item as soon as the parcel is scanned and email you the tracking details."],
         notes=["If the size you want is out of stock, we'll refund the item instead and let you know by email.",
                "If the new item costs more, we'll ask you to pay the difference. If it costs less, we'll refund the difference."],
         actions=["I've set up the exchange for you. Once {courier} scans your return, the new {product} will be sent out, and it should arrive within {ship_days} working days.",
                  "The colour you'd like is out of stock until {new_eta}, so I've reserved one for you. It will ship as soon as it arrives, and you can drop off your return in the meantime."]),
    dict(key="damaged_item", topic="returns",
         titles=["My item arrived damaged", "Reporting a damaged or faulty item"],
         questions=["What should I do if my order arrived damaged?", "What if an item stops working after a few weeks?"],
         asks=["My {product} arrived broken. The box was completely crushed.", "The {product} I received doesn't work at all."],
         explain=["We're really sorry if something arrived damaged or faulty. You won't have to pay anything to send it back, and you can choose a replacement or a full refund.",
                  "Faulty items are covered for one year after delivery. If something stops working within that time, we'll repair, replace or refund it."],
         steps=["Take a couple of photos of the damage and of the outer packaging.", "Go to “My orders”, select the item and choose “Report a problem”.",
                "Upload the photos and tell us briefly what happened.", "Choose whether you'd like a replacement or a refund.",
                "We'll email you a free return label. For large items, we'll arrange a collection instead."],
         notes=["Please keep the original packaging until the case is closed, as the courier may ask to see it.",
                "For small items worth less than {small_value}, we may refund or replace them without asking you to send anything back."],
         actions=["I'm so sorry about that. I've arranged a replacement {product}, which will ship today, and {courier} will collect the damaged one when they deliver the new one.",
                  "Thank you for the photos. I've issued a full refund of {amount}, and you don't need to send the item back."]),
    dict(key="return_refund", topic="returns",
         titles=["Refunds after a return", "When will I get my money back for a return?"],
         questions=["I've sent my return. When will I be refunded?", "Why was only part of my return refunded?"],
         asks=["I sent my return two weeks ago and I still haven't had my refund.", "My return was delivered to you last week, but I haven't been refunded yet."],
         explain=["After your return reaches our warehouse, we check it within three working days and then send the refund to your original payment method.",
                  "If you returned only some items from an order, the delivery charge isn't refunded unless the item was faulty. The refund email shows exactly what was refunded."],
         steps=["Use your return tracking number to check that the parcel has reached us.", "Look for an email titled “Your return has been processed”. It confirms the refund amount.",
                "Allow {refund_days} business days for the money to appear.", "If any of these steps seems stuck, contact us with your order number and drop-off receipt."],
         notes=["If an item comes back used or damaged, we might refund a reduced amount. We'll always explain why and send you photos.",
                "Refunds for orders paid with store credit are added back to your account immediately."],
         actions=["Your return arrived on {ship_date} and was checked yesterday. I've made sure the refund of {amount} has been released, and it should appear within {refund_days} business days.",
                  "The return shows as delivered to our warehouse, but it hasn't been checked yet. I've asked the team to prioritise it, and you'll have your refund confirmation within two working days."]),
]

EN_EMAILS = [
    dict(subjects=["Your {shop} order {order} is confirmed", "Thanks for your order, {name}!", "Order confirmation: {order}"],
         body=["Thank you for shopping with {shop}. We've received your order and we're getting it ready.",
               "Good news: your order is confirmed, and our warehouse team will start packing it shortly.",
               "Thanks for your order! Here's a summary, so you have everything in one place."],
         details="Order number: {order}\nOrder date: {order_date}\nItem: {product} (quantity {qty})\nDelivery: {delivery_option}\nTotal paid: {amount}\nEstimated delivery: {eta}",
         extra=["You can change or cancel your order while it shows “Received” in your account. After that, it's already being packed.",
                "We'll send you another email with a tracking link as soon as your parcel is on its way.",
                "We're delivering to {street}, {city}. If anything in this address is wrong, update it under “My orders” as soon as possible."]),
    dict(subjects=["Your order is on its way", "Order {order} has shipped", "Good news, {name}: your parcel has left our warehouse"],
         body=["Your parcel has left our warehouse and is now with {courier}.",
               "Your {product} is on its way to you. Here are the delivery details.",
               "We've handed your order to {courier}, and it's heading your way."],
         details="Order number: {order}\nCourier: {courier}\nTracking number: {tracking}\nExpected delivery: {eta}\nDelivering to: {street}, {city}",
         extra=["The tracking page can take up to 24 hours to show its first update.",
                "Won't be home? On the {courier} tracking page, you can choose a safe place, a neighbour or a pickup point.",
                "On the day of delivery, the courier will text you a one-hour delivery window."]),
    dict(subjects=["An update on your order {order}", "Your delivery is running late", "Sorry, your order is delayed"],
         body=["We're sorry, but your order is taking longer than expected. {reason}",
               "We wanted to let you know that your delivery won't arrive on {eta} as planned. {reason}",
               "Unfortunately, your parcel has been delayed. {reason}"],
         details="Order number: {order}\nOriginal delivery date: {eta}\nNew estimated delivery: {new_eta}",
         extra=["If you'd rather not wait, you can cancel any items that haven't shipped from “My orders” and get a full refund.",
                "As a thank-you for your patience, we've added a {voucher} voucher to your account. It's valid for 60 days.",
                "You don't need to do anything. We'll email you again as soon as the parcel is moving."]),
    dict(subjects=["Your order has been delivered", "Delivered: your {product}", "Your parcel has arrived"],
         body=["Your parcel was delivered on {eta} at {time}.",
               "{courier} has marked your order as delivered on {eta} at {time}.",
               "Your order {order} has arrived. We hope everything is just as you expected."],
         details="Order number: {order}\nDelivered: {eta}, {time}\nDelivered to: {street}, {city}",
         extra=["Can't find your parcel? Check the tracking page for a photo or a note from the courier, and let us know within 48 hours if it's still missing.",
                "We hope you love your new {product}. If it isn't right, you can return it free of charge within {return_days} days.",
                "Tell us how we did. A short review helps other customers and helps us improve."]),
    dict(subjects=["Your refund has been issued", "Refund for order {order}", "We've refunded {amount}"],
         body=["We've issued a refund of {amount} to your {payment}.",
               "Good news: your refund has been processed.",
               "Your refund for order {order} is on its way back to you."],
         details="Order number: {order}\nRefund amount: {amount}\nRefunded to: {payment}\nDate issued: {today}",
         extra=["Depending on your bank, it may take {refund_days} business days for the money to appear in your account.",
                "The refund will show on your statement under the name {shop}.",
                "If you don't see it after {refund_days} business days, your bank can trace it using the reference {tracking}."]),
    dict(subjects=["We've received your return", "Your return for order {order} has arrived", "Return update: we've got it"],
         body=["Your return has arrived at our warehouse. Our team will check it within three working days.",
               "Thanks for sending your return. It reached us on {today}, and we'll process it shortly.",
               "We've received the {product} you sent back."],
         details="Order number: {order}\nItem returned: {product}\nReturn received: {today}\nExpected refund: {amount}",
         extra=["We'll email you again as soon as your refund has been issued.",
                "If you asked for an exchange, your new item will be sent out today.",
                "Please keep your drop-off receipt until the refund appears in your account."]),
    dict(subjects=["Your password was changed", "Security alert: new sign-in to your account", "Please check a recent sign-in"],
         body=["The password for your {shop} account was changed on {today} at {time}.",
               "We noticed a new sign-in to your account from a device near {city} on {today} at {time}.",
               "Someone signed in to your {shop} account from a new browser on {today}."],
         details="Date: {today}\nTime: {time}\nApproximate location: {city}\nDevice: {device}",
         extra=["If this was you, you don't need to do anything.",
                "If this wasn't you, reset your password straight away using “Forgot password?” on the sign-in page, and then contact us so we can help secure your account.",
                "We'll never ask for your password by email or phone. If you receive a message like that, please don't reply to it."]),
    dict(subjects=["Your {plan} renews soon", "Reminder: your membership renews on {eta}", "Your upcoming {plan} renewal"],
         body=["Your {plan} will renew automatically on {eta} for {plan_price}.",
               "Just a reminder that your {plan} is due to renew on {eta}.",
               "Thanks for being a member. Your {plan} renews on {eta}, and here's what you need to know."],
         details="Plan: {plan}\nRenewal date: {eta}\nPrice: {plan_price}\nPayment method: {payment}",
         extra=["To keep enjoying free delivery and early access to sales, you don't need to do anything.",
                "If you'd like to cancel or change your plan, go to “Subscriptions” in your account before the renewal date.",
                "If your card has changed, update it under “Payment methods” so your benefits continue without a break."]),
    dict(subjects=["We couldn't process your payment", "Action needed: update your payment details", "Payment problem with order {order}"],
         body=["We tried to take a payment of {amount} for order {order}, but it was declined by your bank.",
               "Unfortunately, the payment for your recent order didn't go through.",
               "Your order {order} is on hold because the payment couldn't be completed."],
         details="Order number: {order}\nAmount due: {amount}\nPayment method: {payment}",
         extra=["Please update your payment details within 48 hours so that we can send your order. After that, the order will be cancelled automatically and you won't be charged.",
                "This is often solved by checking the card's expiry date and billing address, or by approving the payment in your banking app.",
                "Your items are reserved for you in the meantime, so you won't lose them."]),
]

EN_POLICIES = [
    dict(titles=["Returns policy", "{shop} returns and exchanges policy"],
         intro=["We want you to love what you buy. If something isn't right, you can send it back within {return_days} days of delivery, and we'll refund or exchange it.",
                "This policy explains how returns and exchanges work at {shop}, what condition items need to be in and how long refunds take."],
         sections=[
             ("Return window", ["You can return most items within {return_days} days of delivery. If your order arrived in several parcels, the window starts on the day the last parcel was delivered.",
                                "The return period is {return_days} days from delivery. During the holiday season we extend it, and the new date is shown in your order details."]),
             ("Condition of returned items", ["Items should be unused, in their original packaging and with all tags attached. Please try shoes on indoors only.",
                                              "Please return items in the condition you received them. We can't accept items that have been worn, washed or assembled, unless they're faulty."]),
             ("Items we can't accept", ["For health and hygiene reasons, we can't take back underwear, pierced jewellery or opened personal care products. Personalised items can't be returned either, unless they arrive faulty.",
                                        "A small number of products can't be returned, including gift cards, personalised items and opened hygiene products. This is always shown on the product page before you buy."]),
             ("How to return an item", ["Start your return from “My orders” in your account or from the link in your delivery email. Choose drop-off or home collection, print the label or save the QR code, and send the parcel within seven days.",
                                        "Returns are registered online. Once you've chosen the items and a reason, we'll give you a label and a list of nearby {courier} drop-off points."]),
             ("Return shipping costs", ["Dropping off a return at a {courier} point is free. If you choose home collection, a fee of {shipping_fee} is deducted from your refund.",
                                        "Return shipping is free for all orders. If you use your own courier, please send the parcel with tracking, as we can't refund parcels that don't reach us."]),
             ("Exchanges", ["You can exchange an item for another size or colour of the same product. We send the new item as soon as the courier scans your return.",
                            "Exchanges are free. If the new size or colour is out of stock, we'll refund you instead."]),
             ("Gifts", ["If you received an item as a gift, you can return it with the gift receipt. The refund is given to you as store credit, and the person who bought it won't be told.",
                        "Gift returns are refunded as store credit. You'll need the order number printed on the gift receipt."]),
         ]),
    dict(titles=["Refund policy", "How refunds work at {shop}"],
         intro=["This page explains when and how we refund payments, and how long it usually takes for the money to reach you.",
                "We aim to make refunds simple and quick. Here's what you can expect after a cancellation, a return or a problem with your order."],
         sections=[
             ("When we issue a refund", ["We refund cancelled orders straight away, and returned items within three working days of them reaching our warehouse. Faulty or missing items are refunded as soon as the problem is confirmed.",
                                         "A refund is issued when an order is cancelled before shipping, when a return has been checked, or when we confirm that an item was lost, damaged or faulty."]),
             ("How you'll be refunded", ["Refunds go back to the original payment method. If you paid with more than one method, for example a gift card and a bank card, each part is refunded to where it came from.",
                                         "We always refund to the payment method used for the order. For security reasons, we can't send a refund to a different card or bank account."]),
             ("How long it takes", ["Once issued, refunds to cards usually appear within {refund_days} business days. Store credit and gift card refunds are available immediately.",
                                    "Your bank controls how quickly the refund shows on your statement. In most cases, this takes {refund_days} business days."]),
             ("Delivery charges", ["We refund the original delivery charge if you return the whole order, or if the item was faulty, damaged or not as described.",
                                   "Standard delivery charges are refunded when the whole order is returned. Express delivery charges are refunded only if the order arrived late."]),
             ("Partial refunds", ["If a returned item shows signs of use, or parts are missing, we may refund part of the price. We'll always explain why and share photos of the item.",
                                  "In rare cases, we may issue a partial refund, for example when an item is returned without its original accessories. We'll tell you the reason by email."]),
             ("Price drops", ["If the price of an item you bought drops within seven days of your order, contact us and we'll refund the difference as store credit.",
                              "We don't adjust prices after purchase, but you're welcome to return an unused item and buy it again at the new price."]),
         ]),
    dict(titles=["Delivery information", "{shop} delivery policy"],
         intro=["Here you'll find our delivery options, costs and timings, and what to do if something goes wrong with your delivery.",
                "We work with trusted couriers, including {courier}, to get your order to you quickly and safely."],
         sections=[
             ("Delivery options", ["We offer standard delivery, express delivery on orders placed before 2 pm, and free collection from pickup points. The options available for your address are shown at checkout.",
                                   "You can choose home delivery, next-day express delivery or collection from a pickup point near you."]),
             ("Delivery times", ["Standard delivery takes three to five working days. Express orders placed before 2 pm on a working day arrive the next working day.",
                                 "Most orders arrive within {ship_days} working days. Large items such as furniture are delivered by a two-person team, and we'll call you to book a time."]),
             ("Delivery costs", ["Standard delivery costs {shipping_fee} and is free on orders over {free_ship}. Collection from a pickup point is always free.",
                                 "Delivery is free on orders over {free_ship}. Below that, standard delivery costs {shipping_fee}."]),
             ("Tracking", ["Every parcel has a tracking number, which we email to you when the order ships. You can also track your parcel under “My orders”.",
                           "You'll receive a tracking link by email as soon as your order leaves the warehouse, and a text message on the day of delivery."]),
             ("If you're not at home", ["If nobody is home, the courier may leave the parcel in your chosen safe place or with a neighbour, or take it to a nearby pickup point. A card or message will tell you where it is.",
                                        "The courier will try to deliver twice. After that, the parcel is taken to a pickup point and kept for seven days before it's returned to us."]),
             ("Delays and missing parcels", ["If your parcel is more than two working days late, or tracking says it was delivered but you can't find it, contact us. We'll investigate with the courier and send a replacement or a refund if it can't be found.",
                                             "Occasionally a parcel is delayed or goes missing. We'll always put it right, either by sending a new item or by refunding you in full."]),
         ]),
    dict(titles=["Privacy notice", "How {shop} uses your personal information"],
         intro=["We respect your privacy. This notice explains what personal information we collect when you shop with us, why we need it and how we keep it safe.",
                "Your trust matters to us. Below is a plain-language summary of how we handle your personal information."],
         sections=[
             ("What we collect", ["We collect the details you give us, such as your name, email address, phone number and delivery addresses, as well as your order history and the messages you send to our support team.",
                                  "When you create an account or place an order, we store your contact details, addresses and order history. We don't store your full card number: payments are handled by our payment provider."]),
             ("How we use it", ["We use your information to process and deliver orders, handle returns and refunds, keep your account secure and answer your questions.",
                                "Your details help us send your orders, keep you updated about deliveries, prevent fraud and improve our service. We only send marketing emails if you've agreed to receive them."]),
             ("Who we share it with", ["We share only what's needed with couriers such as {courier}, with our payment provider and with the companies that host our systems. We never sell your personal information.",
                                       "Couriers receive your name, address and phone number so that they can deliver your parcel. Nobody else receives your data without your permission, unless the law requires it."]),
             ("How long we keep it", ["We keep order records for as long as the law requires for accounting purposes, usually six years. If you close your account, we delete or anonymise the rest of your information within 30 days.",
                                      "Support conversations are kept for two years so that we can follow up on ongoing issues. Other information is kept only as long as we need it."]),
             ("Your choices", ["You can see, download or correct your information in your account settings at any time. You can also ask us to delete your account.",
                               "You can unsubscribe from marketing emails with one click, turn off personalised recommendations and request a copy of the data we hold about you."]),
             ("Keeping your account safe", ["We protect your information with encryption and strict access controls. You can add another layer of protection by turning on two-factor sign-in.",
                                            "Only staff who need your information to help you can see it, and every access is logged."]),
         ]),
]

EN_TIPS = [
    "Save your delivery address in your account so you don't have to type it at every checkout.",
    "Turn on two-factor sign-in. It takes two minutes and makes it much harder for anyone else to get into your account.",
    "Keep your order confirmation email until the return window has passed. It has everything you need to start a return.",
    "Use a password you don't use anywhere else, and consider a password manager.",
    "Add a safe-place note, such as “behind the side gate”, to help the courier if you're out.",
    "Check the size guide on the product page before ordering. Most exchanges are about sizing.",
    "If a parcel is late, check the tracking page first: the courier often posts a new delivery date there.",
    "Keep your drop-off receipt until your refund arrives.",
    "Download invoices for work purchases straight from “My orders”. There's no need to contact us.",
    "Set a reminder a few days before your subscription renews, so you can decide whether to keep it.",
    "When you contact us, have your order number ready. It starts with a letter followed by seven digits, like {order}.",
    "Photos help. If something arrives damaged, a quick picture lets us solve the problem in one message.",
    "Update your phone number when it changes, so you keep getting sign-in codes and delivery texts.",
    "Pending charges aren't final. If an order is cancelled, the hold disappears on its own within a few days.",
    "Turn on delivery notifications in the app to know exactly when your parcel is out for delivery.",
    "Orders over {free_ship} ship free, so it can be worth combining purchases.",
    "Choose a pickup point if nobody is home during the day. Parcels are kept there for seven days.",
    "We'll never ask for your password or full card number. If someone does, don't share it, and let us know.",
    "Check the returns information on the product page. Most items can be returned, but a few can't for hygiene reasons.",
    "If you need to change an order, do it quickly: edits are only possible before packing starts.",
    "Store credit never expires, and you can use it together with a card at checkout.",
    "Add gift cards to your account wallet so you don't lose the code.",
    "If you've moved recently, delete old addresses from your address book to avoid sending a parcel to the wrong place.",
    "If a refund hasn't appeared, look for the name {shop} on your statement rather than the order number.",
    "Sign out on shared or public computers, and don't let the browser save your password there.",
    "You can pause a subscription for up to three months instead of cancelling it.",
    "Live chat is usually the quickest way to reach us, especially for delivery questions.",
    "Pack returns securely, ideally in the original box, so that nothing is damaged on the way back.",
    "Make sure the name on the parcel matches the name on your letterbox, especially in shared buildings.",
    "Be careful with text messages asking you to pay a delivery fee through a link. {courier} and other couriers will never ask for card details by text.",
    "If you were charged twice, check whether one payment is still pending before contacting your bank.",
    "Write the flat or unit number in the first address line. Couriers see that line first.",
]

EN = dict(
    lang="en", sp=" ", customer="Customer: ", agent_label="Agent: ", slots=EN_SLOTS,
    # How much optional material each document kind includes (Chinese text is denser, so it gets more).
    knobs=dict(both_explain=0.4, all_notes=0.3, related=0.4, faq=(3, 4), chat_steps=0.55, chat_follow=0.6,
               chat_second=0.25, email_extra=2, tips=(5, 8), policy_drop=2),
    issues=EN_ISSUES, emails=EN_EMAILS, policies=EN_POLICIES, tips=EN_TIPS,
    topic_labels=dict(account="Account and sign-in", order="Orders", billing="Payments and billing",
                      delivery="Delivery and tracking", returns="Returns and exchanges"),
    num_styles=["{i}. ", "{i}) ", "Step {i}: "],
    bullets=["- ", "• "],
    updated=["Last updated: {policy_date}", "Updated {policy_date}"],
    related=["Related articles:", "You might also find these helpful:"],
    article_leads=["Follow these steps:", "Here's how:", "To do this:", "What to do:", "Here's what to do:"],
    chat_leads=["For next time, here's how to do it yourself:", "If you'd like to check it yourself, here are the steps:",
                "Here's what to do:", "Just so you have them, these are the steps:"],
    more_help=["Still need help? Our support team is available by live chat from {hours}, seven days a week. Have your order number ready so we can help you faster.",
               "If these steps didn't solve the problem, contact us through the Help Centre and choose “{topic_label}”. We usually reply within one working day.",
               "Can't find what you're looking for? Chat with us in the {shop} app, or call us on weekdays from {hours}.",
               "We're here to help. If something still isn't right, get in touch, and a member of our team will look into it personally.",
               "Was this article helpful? If you still have questions, reply to any order email and it will reach our customer care team.",
               "For anything not covered here, the fastest way to reach us is live chat. You can also email our support team, and we'll answer within 24 hours."],
    faq_headers=["Frequently asked questions: {topic_label}", "{topic_label}: common questions",
                 "{shop} Help Centre – {topic_label} FAQ", "Your questions about {topic_lower}, answered"],
    faq_intros=["Below you'll find answers to the questions our customers ask most often. Most things can be sorted out in a couple of minutes.",
                "Before you get in touch, have a look at these answers. They cover most of the questions we receive about {topic_lower}.",
                "We've collected the questions we hear most from {shop} customers, with short, practical answers."],
    qa_styles=[("Q: ", "A: "), ("", ""), ("Question: ", "Answer: ")],
    faq_steps_lead=["Here's how:", "Step by step:", "The steps are:"],
    chat_headers=["Live chat transcript – {shop} – {today}", "Conversation with {shop} customer care, {today}",
                  "Chat history ({today}, {shop} support)"],
    cust_prefix=["Hi. ", "Hello! ", "Hi there! ", "Good morning. ", "", "", "Hello, I hope you can help. ", "Hi, quick question. "],
    agent_greet=["Hi, thanks for contacting {shop}. My name is {agent}.", "Hello, you're chatting with {agent} from {shop} support.",
                 "Hi there, this is {agent}. Thanks for getting in touch.", "Hello, I'm {agent} from the {shop} customer care team.",
                 "Hi, {agent} here. Thanks for waiting.", "Hello and thanks for reaching out. I'm {agent}, and I'll be helping you today."],
    empathy=["I'm sorry to hear that, and I'll do my best to sort it out for you.", "I understand how frustrating that must be. Let's get it fixed.",
             "Thanks for letting us know. I'm happy to help with this.", "I'm sorry for the trouble. I'll look into it right away.",
             "That's definitely not the experience we want you to have, and I'm sorry.", "No problem at all, I can help you with that.",
             "I can see why that's worrying. Let me check what's going on.", "Thank you for your patience while you waited for an answer."],
    request=dict(
        account=["To look into this, could you tell me the email address linked to your account? I won't need your password.",
                 "Could you confirm the email address you use to sign in?", "May I have the email address on the account, please?"],
        order=["Could you share your order number? It starts with a letter followed by seven digits.",
               "May I have the order number, please? You'll find it in your confirmation email.",
               "Could you tell me the order number so I can pull up the details?"],
        charge=["Could you tell me the date and the exact amount as it appears on your statement?",
                "To find it, could you tell me when the payment was taken and how much it was?"]),
    provide=dict(account=["Sure, it's {email}.", "It's {email}.", "I use {email}.", "Yes, {email}."],
                 order=["Yes, it's {order}.", "Sure, the order number is {order}.", "Here you go: {order}.", "It's {order}, I think."],
                 charge=["It was {amount}, taken on {order_date}.", "{amount} on {order_date}.", "It says {amount}, dated {order_date}."]),
    check=["Thank you. Give me a moment while I look into it.", "Thanks, I'm checking now.", "Thank you, I've found it.",
           "Great, thank you. One moment, please.", "Thanks for that. I can see the details here.", "Perfect, thank you for waiting."],
    followups=["Okay. Is there anything else I should know?", "Thanks. Is there anything I should watch out for?",
               "Got it. Is there anything else I should keep in mind?", "Alright. Is there anything else I need to do?"],
    followup_answers=["Just one thing to keep in mind. {note}", "Yes, one thing. {note}", "{note}", "Good question. {note}"],
    second_q=["One more question, if that's okay. {q}", "Sorry, one last thing. {q}", "Actually, I have another question. {q}"],
    second_a=["Of course. {a}", "Good question. {a}", "Sure. {a}"],
    thanks=["That's great, thank you so much for your help.", "Perfect, thanks for sorting that out.", "Thanks, that really helps.",
            "Okay, thank you. That's all I needed.", "Brilliant, thanks {agent}!", "Thank you for being so quick."],
    closing=["You're very welcome. If anything else comes up, you can reach us here on live chat every day from {hours}.",
             "Happy to help! You'll also find guides for most questions in our Help Centre.",
             "My pleasure. If you need anything else, just reply to your confirmation email and it will come straight to our team.",
             "Glad I could help. Have a lovely rest of your day!",
             "You're welcome. If the problem comes back, contact us again and mention this chat, so we can pick up where we left off.",
             "Anytime! Take care, and thanks for shopping with {shop}."],
    subject="Subject: ",
    email_greetings=["Hi {name},", "Hello {name},", "Dear {name},"],
    email_footers=["Questions? Visit our Help Centre or chat with us every day from {hours}.",
                   "This email was sent to {email} because you have an account with {shop}.",
                   "Please don't reply directly to this email. If you need help, use live chat in the app or on our website.",
                   "You can choose which emails you receive under “Communication preferences” in your account."],
    signoffs=["Best wishes,\nThe {shop} team", "Kind regards,\n{shop} Customer Care", "Thanks again,\nEveryone at {shop}",
              "Warm regards,\nThe {shop} team"],
    policy_outros=["If you have any questions about this policy, please contact our customer care team through live chat or the Help Centre.",
                   "We may update this page from time to time. The date at the top shows when it was last changed.",
                   "Need help with a specific order? Our team is available every day from {hours}."],
    tips_headers=["{n} tips to make shopping with {shop} easier", "Before you contact us: {n} quick tips",
                  "Quick tips from the {shop} customer care team", "Good to know: {n} tips for orders, delivery and returns"],
    tips_intros=["Our customer care team answers thousands of questions every week. These small habits prevent many of the most common problems.",
                 "A few simple steps can save you time when you shop, track a parcel or send something back.",
                 "We asked our support team which advice they give most often. Here it is in one place."],
)

# ---------------------------------------------------------------------------
# Chinese templates
# ---------------------------------------------------------------------------

ZH_ISSUES = [
    dict(key="reset_password", topic="account",
         titles=["如何重置登录密码", "忘记密码怎么办？"],
         questions=["忘记密码了，怎么重新设置？", "客服能告诉我原来的密码吗？"],
         asks=["我忘记密码了，点了找回密码也一直没收到邮件。", "我登录了好几次都提示密码错误，怎么办？"],
         explain=["如果您忘记了密码，可以自行设置新密码，整个过程只需几分钟。为了保护您的账户安全，客服人员无法查看或告知您原来的密码，但如果收不到重置邮件，我们可以协助处理。",
                  "您的密码经过加密保存，{shop}的任何工作人员都无法查询。找回账户最快的方法是申请重置链接，然后设置一个新密码。"],
         steps=[["打开{shop}网站或App的登录页面。", "在浏览器中进入{shop}登录页，或直接打开App。"], ["点击密码输入框下方的“忘记密码”。", "在登录按钮下方点击“忘记密码”。"],
                "输入注册时使用的邮箱或手机号，然后提交。", ["打开我们发送的邮件或短信，在{link_minutes}分钟内点击重置链接。", "查收验证信息并点击其中的链接，链接有效期为{link_minutes}分钟。"],
                "设置一个至少10位的新密码，并再次输入确认。", "使用新密码登录。系统可能会向您的手机发送验证码进行确认。"],
         notes=["如果10分钟内仍未收到邮件，请检查垃圾邮件文件夹，并确认邮箱地址填写无误。部分企业邮箱会延迟接收外部邮件。", "每次重新申请链接后，之前的链接都会失效，请使用最新收到的那一封。",
                "为了安全起见，请不要使用在其他网站用过的密码。"],
         actions=["我已经向{email}重新发送了重置链接，有效期{link_minutes}分钟，请尽快操作。", "我看到前两封重置邮件都发到了您的旧邮箱。我已帮您更新为{email}，并重新发送了链接。"]),
    dict(key="two_factor", topic="account",
         titles=["收不到登录验证码怎么办", "双重验证常见问题排查"],
         questions=["为什么输入验证码后提示无效？", "登录验证码一直收不到，怎么办？"],
         asks=["我一直收不到登录验证码的短信。", "每次输入验证码都提示已过期。"],
         explain=["开启双重验证后，每次在新设备上登录时，我们都会发送一个六位数验证码。验证码{code_minutes}分钟内有效，且只能使用一次。",
                  "大多数验证码问题是由手机信号弱、短信被拦截或账户绑定的手机号已经停用造成的。按照下面的步骤操作，通常都能解决。"],
         steps=["确认手机信号正常，且没有开启飞行模式。", ["至少等待60秒再重新获取验证码，避免多条短信混淆。", "请先等待一分钟，再点击“重新发送”。"],
                "检查手机是否设置为自动同步时间。如果使用验证器App，时间不准会导致验证码不匹配。", "只输入最新收到的验证码，重新获取后旧的验证码会自动失效。",
                ["如果仍然收不到，请选择“其他验证方式”，使用备用验证码登录。", "如果始终没有收到，可以点击“使用备用码”，输入开启双重验证时保存的备用码。"]],
         notes=["如果尾号为{phone_tail}的手机号已经无法使用，请联系我们。核实身份后我们会帮您更换，一般需要一个工作日。", "部分手机安全软件会拦截验证码短信，将{shop}加入白名单后通常就能正常接收。"],
         actions=["我看到验证码一直发送到尾号{phone_tail}的手机号。已经核实了您的身份，我先帮您把验证方式改成了邮箱。", "我已经为您重置了双重验证，下次登录时系统会引导您重新设置。"]),
    dict(key="locked_account", topic="account",
         titles=["账户被锁定了怎么办？", "多次登录失败后如何解锁账户"],
         questions=["账户锁定会持续多久？", "账户被锁定后，订单和收货地址会丢失吗？"],
         asks=["我的账户突然被锁定了，不知道是什么原因。", "我输错了几次密码，现在提示账户暂时锁定。"],
         explain=["为了保护您的账户，连续多次登录失败后，系统会将账户锁定{lock_minutes}分钟。如果我们发现异常登录行为，也可能会暂时锁定账户。",
                  "账户锁定不会删除任何数据，您的订单、收货地址和已保存的支付方式都会完整保留，解锁后即可正常使用。"],
         steps=["等待{lock_minutes}分钟后再尝试登录，期间重复尝试会重新开始计时。", "如果不确定密码，请直接重置密码，不要反复猜测。",
                "打开我们发送的账户锁定通知邮件，选择“是我本人操作”或“不是我本人操作”。",
                ["如果不是您本人操作，请立即设置新密码，并检查最近的订单。", "如果您没有尝试登录，请马上修改密码，并查看订单和收货地址是否有变动。"]],
         notes=["如果发现不认识的订单或地址变更，请回复锁定通知邮件或通过在线客服联系我们，我们会和您一起保护账户安全。", "我们绝不会通过电话、聊天或邮件向您索要完整密码或银行卡号。"],
         actions=["已核实您的身份并为您解除锁定，现在可以正常登录了。建议您登录后顺便修改一下密码。",
                  "这次锁定是由来自{city}的登录尝试触发的。为了安全起见，我暂时保留了锁定，并向您发送了设置新密码的安全链接。"]),
    dict(key="change_email", topic="account",
         titles=["如何修改账户绑定的邮箱", "更换登录邮箱"],
         questions=["换了邮箱以后，以前的订单记录还在吗？", "为什么修改邮箱前要先验证新邮箱？"],
         asks=["我原来的邮箱不用了，想换一个新的。", "能帮我把账户换绑到新邮箱吗？"],
         explain=["您可以随时在账户设置中修改邮箱地址。订单记录、收货地址和账户余额都会保留在原账户中，不受影响。", "邮箱地址用于登录和接收订单通知，因此修改前需要先验证新邮箱，验证通过后才会生效。"],
         steps=["登录后进入“账户设置”。", ["点击“邮箱地址”，然后选择“修改”。", "进入“个人信息”，点击邮箱旁边的“编辑”。"], "输入新的邮箱地址和当前登录密码。",
                "我们会向新邮箱发送一封验证邮件，请在24小时内点击链接完成修改。", "原邮箱也会收到一条提醒，告知您邮箱已被修改。"],
         notes=["如果原邮箱已无法使用且您无法登录，客服可以通过近期的订单号和支付卡后四位为您核实身份。", "促销邮件会自动发送到新邮箱，您可以在“消息设置”中调整订阅。"],
         actions=["我已经向您的新邮箱发送了验证链接，点击后即可完成修改。", "感谢您提供订单号{order}，身份已核实，我已帮您把登录邮箱更新为{email}。"]),
    dict(key="change_phone", topic="account",
         titles=["如何更换绑定手机号", "修改用于接收验证码的手机号"],
         questions=["为什么要及时更新手机号？", "换了新号码，怎样继续接收登录验证码？"],
         asks=["我换了手机号，现在收不到登录验证码了。", "请问怎么更新账户上的手机号？"],
         explain=["手机号用于接收物流通知，如果开启了双重验证，也用于接收登录验证码。及时更新手机号，既方便快递员联系您，也能保障账户安全。",
                  "您可以先添加新号码，再删除旧号码，这样在更换过程中也不会收不到验证码。"],
         steps=["登录后进入“账户设置”，再点击“账户安全”。", "点击“手机号”，选择“添加新号码”。", "输入新手机号，然后点击“获取验证码”。", "输入短信中的六位验证码，完成验证。",
                "新号码验证成功后，删除尾号为{phone_tail}的旧号码。"],
         notes=["如果旧手机已经不在身边，请选择“旧号码无法使用”，我们会先通过邮箱核实身份，再为您更换。",
                "已经发货的订单，物流短信可能仍会发送到旧号码，因为包裹出库时快递公司已经获取了当时的联系方式。"],
         actions=["我已经在您的账户中添加了备注，安全团队会为您更换手机号，一个工作日内会给您发邮件确认。", "新号码已验证成功，尾号{phone_tail}的旧号码也已为您删除。"]),
    dict(key="place_order", topic="order", info="account",
         titles=["如何下单", "第一次在{shop}购物"],
         questions=["没有注册账户可以下单吗？", "怎么确认订单已经提交成功？"],
         asks=["我刚才下了单，但不确定有没有成功。", "我用游客身份下了单，不确定成功没有，能帮我查一下吗？"],
         explain=["您可以注册账户后购物，也可以以游客身份直接下单。注册账户后查询订单、保存地址和申请退货都更方便，但并不是必须的。",
                  "订单提交成功后，页面会显示订单号，几分钟内您还会收到一封内容相同的确认邮件或短信。"],
         steps=["将想要的商品加入购物车，点击“去结算”。", "登录、注册新账户，或选择“游客下单”。", "填写收货地址，选择配送方式。",
                ["选择支付方式，并核对订单信息。", "选好支付方式后，核对商品、运费和应付总额。"], "点击“提交订单”，下一页会显示您的订单号。"],
         notes=["如果30分钟后仍未收到确认信息，请先查看垃圾邮件，不要急着重复下单，以免产生两笔订单。", "订单满{free_ship}即可享受免费标准配送。"],
         actions=["我查到了您在{order_date}提交的订单{order}，订单已经成功，确认邮件也已发送到{email}。", "这次支付没有完成，所以订单没有生成，您也没有被扣款，可以放心重新下单。"]),
    dict(key="change_order", topic="order",
         titles=["下单后如何修改订单", "订单可以修改吗？"],
         questions=["下单后还能改尺码或颜色吗？", "已经下单了，还能再加商品吗？"],
         asks=["我尺码选错了，发货前还能改吗？", "我颜色选错了，现在改还来得及吗？"],
         explain=["订单确认后我们会很快开始拣货，因此只有订单状态为“已接单”时才能修改。一旦变为“备货中”，订单就无法再编辑了。",
                  "在可修改期间，您可以更改尺码、颜色和数量，但不能添加新商品。如需加购，可以另下一单，我们会尽量合并发货。"],
         steps=["进入“我的订单”，打开订单{order}。", "如果页面上有“修改订单”按钮，请点击；如果没有，说明订单已经在备货中。", "修改后点击“保存”。",
                "核对修改后的金额。如果金额增加，我们会收取差价；如果金额减少，差价会原路退回。"],
         notes=["如果订单已经无法修改，收到商品后可以申请退货或换货，{return_days}天内退换免费。", "修改收货地址的规则有所不同，详情请参阅“如何修改收货地址”。"],
         actions=["好消息，订单{order}还没有打包，我已经帮您改好了，金额不变。", "很抱歉，订单已经打包完成，无法再修改了。收到商品后，{return_days}天内可以免费换货。"]),
    dict(key="cancel_order", topic="order",
         titles=["如何取消订单", "取消订单及退款说明"],
         questions=["怎么取消订单？", "订单取消后，钱什么时候退回来？"],
         asks=["我想取消订单，在别处看到更便宜的了。", "我不小心下错单了，需要取消。"],
         explain=["只要订单还没有发货，您就可以自行取消。如果已经发货，可以拒收包裹，或者收货后申请退货，同样可以全额退款。",
                  "订单取消后，我们会立即发起退款。根据银行处理速度不同，款项一般需要{refund_days}个工作日到账。"],
         steps=["打开“我的订单”，选择要取消的订单。", ["点击“取消订单”，并选择取消原因。", "点击“取消订单”，简单告诉我们原因。"], "如果订单中有多件商品，可以选择全部取消或只取消其中几件。",
                "确认取消。处理完成后，您会收到一条通知。"],
         notes=["如果看不到“取消订单”按钮，说明订单已经交给快递公司，收货后仍然可以申请退货。", "使用礼品卡支付的订单取消后，金额会立即退回礼品卡。"],
         actions=["已经为您取消了订单{order}，{amount}的退款已发起，预计{refund_days}个工作日内到账。",
                  "订单{order}今天上午已经由{courier}揽收，现在无法取消了。收到包裹后，您可以使用账户中的免费退货单寄回。"]),
    dict(key="order_status", topic="order",
         titles=["订单状态说明", "我的订单现在到哪一步了？"],
         questions=["订单有哪些状态？", "订单显示“处理中”已经两天了，是不是有问题？"],
         asks=["我的订单好几天都显示处理中，到底发货了没有？", "能帮我查一下订单现在的情况吗？"],
         explain=["每个订单都会经过几个阶段：已接单、备货中、已发货、已签收。您可以随时在“我的订单”中查看当前状态。",
                  "大部分订单会在两个工作日内从“已接单”变为“已发货”。大件商品和定制商品需要的时间更长，商品页面上会有说明。"],
         lead="各个状态的含义如下：",
         steps=["已接单：我们已收到您的订单，且支付已确认。", "备货中：仓库正在为您拣货和打包。", "已发货：包裹已交给快递公司，可以查询物流单号。", "派送中：快递员预计今天送达。",
                "已签收：快递公司已将包裹标记为送达。"],
         notes=["如果订单在同一状态停留超过三个工作日，请联系我们，我们会向仓库核实。", "包含多件商品的订单可能会分成几个包裹发出，每个包裹都有单独的物流单号。"],
         actions=["订单{order}目前在仓库备货中，预计{ship_date}发货。包裹出库后，物流信息会第一时间发送给您。",
                  "我和仓库确认过了，订单{order}之所以延迟，是因为其中一件商品需要从其他仓库调货。现在已经打包完成，今天就会被揽收。"]),
    dict(key="unknown_charge", topic="billing", info="charge",
         titles=["发现不认识的扣款", "如何核对账单上的扣款"],
         questions=["账单上有一笔{shop}的扣款，我不知道是什么？", "为什么订单还没发货就扣款了？"],
         asks=["我的银行卡被扣了{amount}，不知道是买了什么。", "账单上有一笔{shop}的付款，但我这周没下过单。"],
         explain=["{shop}的扣款在银行账单上会显示订单号，一般很容易对应。常见的原因包括会员自动续费、家人用同一张卡下了单，或者是银行的临时预授权。",
                  "下单时，银行可能会先冻结相应金额，几天后才显示正式扣款。如果订单被取消，冻结金额会自动解除。"],
         steps=["查看账单上的扣款说明，记下“{shop}”后面的订单号。", "登录账户，在“我的订单”中搜索该订单号。", "如果没有对应订单，请查看“我的会员”，确认是否有自动续费。",
                "问问与您共用银行卡或账户的家人是否下过单。"],
         notes=["如果仍然无法确认这笔扣款，请把扣款日期和金额告诉我们。我们会进行核查，如确认非本人操作，会帮您保护账户并退回款项。",
                "待处理的冻结金额一般在七天内自动解除，您也可以向银行确认该笔是冻结还是正式扣款。"],
         actions=["这笔扣款是您的{plan}在{order_date}的自动续费。由于续费后您还没有使用过会员权益，我已经帮您取消并全额退款。",
                  "这笔{amount}是订单{order}的临时预授权，发货时会变为正式扣款，不会重复收费。"]),
    dict(key="double_charge", topic="billing",
         titles=["被重复扣款怎么办", "发现重复付款的处理方法"],
         questions=["为什么同一个订单扣了两次钱？", "重复扣款会自动退回吗？"],
         asks=["同一个订单被扣了两次钱，能帮我处理一下吗？", "银行显示有两笔{amount}的付款，但我只下了一个订单。"],
         explain=["看到两笔扣款，难免让人着急。很多时候，其中一笔只是银行的临时冻结，几天后会自动解除，实际只会扣款一次。",
                  "如果结算页面被刷新或重复提交，偶尔会出现重复扣款。一旦发现，我们会尽快退回多扣的金额。"],
         steps=["查看两笔款项中是否有一笔显示为“处理中”或“预授权”，这类金额通常会在{hold_days}天内自动解除。", "进入“我的订单”，确认是否只提交了一个订单。",
                "如果发现有两个订单，请在发货前取消不需要的那一个。", "如果两笔都是正式扣款且只有一个订单，请联系我们，并提供订单号和两笔扣款的日期。"],
         notes=["确认重复扣款后，我们会在一个工作日内退款，银行入账可能还需要几天。", "请不要同时向银行发起争议申请，否则可能会延长退款时间。"],
         actions=["您说得没错，订单{order}确实扣了两次款。多扣的{amount}已经退回，预计{refund_days}个工作日内到账。", "我们这边只有一笔扣款记录，账单上的另一笔是银行的预授权，会在{eta}前自动解除。"]),
    dict(key="invoice", topic="billing",
         titles=["如何开具和下载发票", "申请电子发票"],
         questions=["订单的发票在哪里可以找到？", "发票抬头可以开公司名称吗？"],
         asks=["我需要这个订单的发票用来报销，在哪里下载？", "能帮我开一张带公司抬头的发票吗？"],
         explain=["每个订单发货后都会自动生成电子发票，您可以随时在账户中下载PDF文件。", "如果需要开具企业抬头，请在下载前填写公司名称和纳税人识别号。下单日期起90天内都可以修改发票信息。"],
         steps=["登录后进入“我的订单”。", "打开订单{order}，点击“发票”。", "如需企业抬头，请点击“修改开票信息”，填写公司名称和纳税人识别号后保存。", "点击“下载PDF”，文件会保存到您的设备中。"],
         notes=["如果订单分多个包裹发出，每个包裹都会对应一张发票。", "游客订单的发票可以通过确认邮件中的链接申请。"],
         actions=["我已经为订单{order}重新开具了带公司抬头的发票，并发送到了{email}。", "发票会在订单发货后生成，预计是{ship_date}。我已经添加了备注，届时会自动发送到您的邮箱。"]),
    dict(key="payment_method", topic="billing", info="account", paired=True,
         titles=["如何更换支付方式", "支付失败怎么办？"],
         questions=["支持哪些支付方式？", "付款一直失败，该怎么办？"],
         asks=["结算时付款一直提示失败。", "我换了新的银行卡，想更新会员自动续费用的卡。"],
         explain=["我们支持借记卡、信用卡、礼品卡、账户余额以及多种电子钱包。您可以保存多种支付方式，并设置其中一种为默认。",
                  "支付失败通常是发卡银行拒绝了交易，而不是我们这边的问题。常见原因包括银行卡过期、账单地址不一致，或者银行触发了安全验证。"],
         steps=["进入“账户设置”，打开“支付方式”。", "点击“添加支付方式”，输入新卡信息。", "确认账单地址与银行登记的地址一致。", "将新卡设为默认；如不再使用，可以删除尾号{card_tail}的旧卡。",
                "如果支付失败，请核对信息后重试，或联系银行确认交易。"],
         notes=["更改默认银行卡后，正在生效的会员订阅也会同步更新，下次续费将使用新卡。", "为了您的安全，我们看不到完整卡号，客服也无法代您填写银行卡信息。"],
         actions=["我看到上一次付款是被银行以安全验证为由拒绝的。您向银行确认后就可以重新付款，购物车里的商品都还在。", "我查看了您的账户，会员订阅已经关联到新卡，不需要再做其他操作。"]),
    dict(key="subscription", topic="billing", info="account", paired=True,
         titles=["如何管理或取消会员订阅", "怎样取消{plan}"],
         questions=["怎么取消会员自动续费？", "取消会员后可以退款吗？"],
         asks=["我想在续费前取消{plan}。", "我不是有意开通会员的，可以取消吗？"],
         explain=["您可以随时取消{plan}。取消后，已付费周期内的权益仍然有效，之后不会再扣费。", "如果您在扣费后14天内取消，并且没有使用过任何会员权益，我们会全额退还{plan_price}。"],
         steps=["登录后打开账户中的“我的会员”。", "选择{plan}，点击“管理”。", "点击“取消自动续费”并确认。", "您会收到一封邮件，告知权益的截止日期。"],
         notes=["如果只是想暂停一段时间，也可以选择暂停订阅，最长三个月。", "通过手机应用商店开通的会员，需要在应用商店的设置中取消。"],
         actions=["已为您取消{plan}的自动续费，会员权益保留到{eta}，之后不会再扣费。", "由于{order_date}的续费还没有使用，我已为您取消会员，并将{plan_price}退回尾号{card_tail}的银行卡。"]),
    dict(key="refund_timing", topic="billing",
         titles=["退款多久能到账？", "退款流程说明"],
         questions=["退款一般需要多长时间？", "退款已经批准了，为什么还没到账？"],
         asks=["一周前就说退款成功了，但钱一直没到。", "请问退款多久能退回来？"],
         explain=["退款审核通过后，我们会立即原路退回。之后到账时间取决于银行，大多数银行卡会在{refund_days}个工作日内显示退款。",
                  "退回账户余额或礼品卡的款项会即时到账；退回银行卡的款项需要银行批量处理，所以时间会长一些。"],
         steps=["查看我们发送的退款通知，上面有退款金额和退款日期。", "在银行账单中查找名称为“{shop}”的入账记录，而不是原订单号。",
                "如果超过{refund_days}个工作日仍未到账，请凭通知中的退款流水号向银行查询。", "如果银行查不到，请联系我们，我们会提供支付机构出具的退款证明。"],
         notes=["如果付款时使用的银行卡已注销或更换，银行一般会自动将退款转入新卡。", "整单退货或商品存在质量问题时，运费也会一并退还。"],
         actions=["我确认我们已在{ship_date}退款{amount}，退款流水号是{tracking}，您可以凭这个号码向银行查询。", "退款今天已经退回尾号{card_tail}的银行卡，预计{refund_days}个工作日内到账。"]),
    dict(key="track_parcel", topic="delivery",
         titles=["如何查询物流信息", "我的包裹到哪儿了？"],
         questions=["怎么查询订单的物流？", "为什么物流单号查不到信息？"],
         asks=["能帮我查一下包裹到哪儿了吗？一直没有更新。", "物流链接显示查不到我的包裹信息。"],
         explain=["订单发货后，我们会把物流单号和查询链接发送给您。您也可以在“我的订单”中随时查看包裹进度。",
                  "新的物流单号最长可能需要24小时才会显示信息，这是正常的：包裹到达第一个转运中心扫描后才会更新。"],
         steps=["打开发货通知，或进入“我的订单”，选择订单{order}。", "点击“查看物流”，查看{courier}的最新记录。", "如果显示“暂无物流信息”，请第二天再查看。",
                "开启短信提醒，包裹开始派送时会收到通知。"],
         notes=["如果物流信息超过三个工作日没有更新，请告诉我们，我们会联系快递公司核查。", "您的物流单号是{tracking}，也可以直接在{courier}官网查询。"],
         actions=["您的包裹已于{ship_date}由{courier}揽收，目前在{city}转运中心，预计{eta}送达。", "物流信息从{ship_date}起就没有更新，我已经请{courier}核查包裹位置，两个工作日内会通过邮件回复您。"]),
    dict(key="delayed_delivery", topic="delivery",
         titles=["包裹延误了怎么办", "订单配送延迟的处理方法"],
         questions=["已经过了预计送达日期，包裹还没到怎么办？", "为什么预计送达时间变了？"],
         asks=["订单原定{eta}送到，到现在还没收到。", "送达时间一直在往后推，我周末前就要用。"],
         explain=["包裹延误给您带来不便，我们深表歉意。大多数延误是由恶劣天气、快递量激增或漏扫造成的，包裹通常会在几天内送达。",
                  "如果快递公司预计会延误，物流页面上的预计送达日期会随之更新。如果新日期比原计划晚两天以上，我们会通知您。"],
         steps=["查看最新物流信息，确认新的预计送达日期。", "确认订单上的收货地址完整，包括楼号和门牌号。", "在原预计日期后再等待两个工作日，大部分延误包裹会在这段时间内送达。",
                "如果仍然没有收到，请联系我们，我们会为您补发或退款。"],
         notes=["如果您支付了加急配送费而包裹延误，我们会退还{shipping_fee}的运费。", "节假日和大促期间，配送时间可能比平时多一到两天。"],
         actions=["我已经和{courier}确认过，包裹因为天气原因滞留在{city}转运中心，现在已经重新发出，预计{new_eta}送达。",
                  "包裹延误真的很抱歉。因为您选择了加急配送，我已经为您退还{shipping_fee}的运费，包裹预计{new_eta}送达。"]),
    dict(key="wrong_address", topic="delivery",
         titles=["如何修改收货地址", "收货地址填错了怎么办"],
         questions=["下单后还能修改收货地址吗？", "包裹可以改派到任意地址吗？"],
         asks=["我的收货地址填错了，能帮我改一下吗？", "我刚发现订单寄到了以前住的地方。"],
         explain=["订单发货前，您可以随时修改收货地址。发货后，能否改派取决于包裹当前的位置，需要由快递公司处理。", "出于安全考虑，改派只能在同一城市内进行，且新地址须为您账户中已保存的地址。"],
         steps=["进入“我的订单”，打开订单{order}。", "如果订单尚未发货，点击“修改地址”，选择或添加正确的地址。", "如果已经发货，请在物流页面查找{courier}提供的“改派”选项。",
                "如果没有改派选项，请尽快联系我们，我们会请快递公司拦截包裹。"],
         notes=["如果包裹因地址错误被退回，我们会在包裹回到仓库后为您退款，但运费不予退还。", "建议定期检查常用地址，避免下次再选错。"],
         actions=["订单还没有出库，我已经把地址改为您在{city}的新地址，预计仍在{eta}送达。", "包裹已经交给{courier}了。我已申请拦截退回，包裹回到仓库后会免费重新寄往您的新地址。"]),
    dict(key="missing_parcel", topic="delivery",
         titles=["显示已签收但没收到包裹", "包裹丢失怎么处理"],
         questions=["物流显示已签收，但我没收到，怎么办？", "为什么包裹还没送到就显示签收了？"],
         asks=["物流显示已签收，可是门口什么都没有。", "包裹昨天就显示签收了，我到处找都没找到。"],
         explain=["我们理解这种情况很让人着急。显示签收的包裹往往会在一天内找到：可能放在了快递柜、驿站，或者由邻居、门卫代收了。",
                  "快递员有时会提前点击签收，比如在装车准备最后一站派送时。建议您先等到当天晚上再确认。"],
         steps=["查看家门口、快递柜和小区的代收点，也可以问问邻居或门卫。", "查看物流页面是否有签收照片或放置位置的备注。", "留意{courier}发来的取件短信，上面会写明包裹存放的地点。",
                "如果48小时后仍未找到，请联系我们，我们会向快递公司发起调查。"],
         notes=["调查一般需要五个工作日。如果包裹确实找不到，我们会根据您的意愿补发或全额退款。", "我们可能需要您书面确认未收到包裹，这是与所有快递公司合作时的标准流程。"],
         actions=["我已经就订单{order}向{courier}发起了调查，五个工作日内会给您答复。如果包裹找不到，我们会免费为您补发一件新的{product}。",
                  "签收照片显示包裹放进了快递柜，取件码应该已经发到您尾号{phone_tail}的手机上了。我也请快递员再确认一下具体位置。"]),
    dict(key="start_return", topic="returns",
         titles=["如何申请退货", "退货流程说明"],
         questions=["收到商品后多久内可以退货？", "哪些商品不支持退货？"],
         asks=["我想退掉买的{product}，和预期的不太一样。", "怎么把商品寄回去？我找不到退货单。"],
         explain=["大部分商品在签收后{return_days}天内可以退货并全额退款，只要商品未使用且包装完好即可。",
                  "出于卫生原因，部分商品不支持退货，例如贴身衣物、耳饰和已拆封的个人护理用品，商品页面上会有明确标注。"],
         steps=["进入“我的订单”，选择要退回的商品。", "点击“申请退货”，并选择退货原因。",
                ["选择寄回方式：可以送到{courier}服务点，也可以预约上门取件。", "选择退货方式：自行寄到服务点免费，上门取件需支付{shipping_fee}。"],
                "打印退货单；如果没有打印机，也可以在服务点出示二维码。", "把商品包装好，贴上退货单，并在七天内寄出。"],
         notes=["请保留寄件凭证，直到退款到账，这是包裹已寄出的证明。", "如果刚刚超过退货期限，也请联系我们，逾期退货我们会根据具体情况处理。"],
         actions=["已经为您的{product}创建了退货申请，退货单已发送到{email}，您可以在任意{courier}服务点寄出。",
                  "您的订单是{eta}签收的，还在{return_days}天退货期内。我已经把二维码发给您，在服务点出示即可，不需要打印。"]),
    dict(key="exchange", topic="returns", paired=True,
         titles=["如何换货", "更换尺码或颜色"],
         questions=["可以换成其他尺码吗？", "可以换成其他商品吗？"],
         asks=["我买的{product}小了，能换大一号吗？", "我想把{product}换成别的颜色。"],
         explain=["换货免费，流程与退货类似。快递公司扫描您寄回的包裹后，我们就会寄出新商品，不需要等包裹回到仓库。", "您可以更换同一商品的不同尺码或颜色。如果想换成其他商品，请先退货，再重新下单。"],
         steps=["打开“我的订单”，选择该商品。", "点击“换货”，选择新的尺码或颜色。", "打印退货单或保存二维码，并在七天内寄出包裹。", "包裹被扫描揽收后，我们会寄出新商品，并把物流信息发送给您。"],
         notes=["如果想要的尺码缺货，我们会改为退款，并通过邮件通知您。", "如果新商品价格更高，需要补齐差价；如果价格更低，差价会退还给您。"],
         actions=["已经为您办理换货。{courier}揽收您寄回的包裹后，新的{product}就会发出，预计{ship_days}个工作日内送达。",
                  "您想要的颜色要到{new_eta}才能到货，我已经为您预留了一件，到货后马上发出。您寄回的包裹现在就可以送去服务点。"]),
    dict(key="damaged_item", topic="returns",
         titles=["收到的商品有破损", "商品损坏或质量问题怎么处理"],
         questions=["收到的商品破损了怎么办？", "用了几周后商品坏了怎么办？"],
         asks=["我收到的{product}坏了，外箱都压扁了。", "收到的{product}完全用不了。"],
         explain=["商品破损或有质量问题，真的非常抱歉。寄回不需要您承担任何费用，您可以选择换新或全额退款。", "商品签收后一年内出现质量问题，我们都会为您维修、更换或退款。"],
         steps=["拍几张商品破损处和外包装的照片。", "进入“我的订单”，选择该商品，点击“申请售后”。", "上传照片，并简单描述问题。", "选择换新或退款。",
                "我们会向您发送免费退货单；大件商品会安排上门取件。"],
         notes=["在售后处理完成前，请保留原包装，快递公司可能需要查看。", "对于价值低于{small_value}的小件商品，我们可能会直接退款或补发，无需寄回。"],
         actions=["真的很抱歉。我已经为您安排补发一件新的{product}，今天就会发出，{courier}送新货时会顺便取回破损的商品。", "谢谢您提供的照片。我已经为您全额退款{amount}，商品不需要寄回。"]),
    dict(key="return_refund", topic="returns",
         titles=["退货后的退款说明", "退货寄回后什么时候退款？"],
         questions=["退货已经寄出了，什么时候退款？", "为什么退货只退了一部分钱？"],
         asks=["我两周前就寄回了退货，到现在还没收到退款。", "退货上周就显示你们签收了，但我还没收到退款。"],
         explain=["退货到达仓库后，我们会在三个工作日内完成验货，然后将款项原路退回。", "如果只退回订单中的部分商品，除非商品有质量问题，否则运费不予退还。退款通知中会列出具体的退款明细。"],
         steps=["用退货物流单号确认包裹是否已经寄到我们仓库。", "查收标题为“退货已处理”的通知，确认退款金额。", "预留{refund_days}个工作日等待款项到账。",
                "如果以上任何一步没有进展，请准备好订单号和寄件凭证联系我们。"],
         notes=["如果退回的商品有使用痕迹或损坏，可能只能部分退款。我们会说明原因，并附上照片。", "使用账户余额支付的订单，退货后款项会立即退回余额。"],
         actions=["您的退货已于{ship_date}到达仓库，昨天已经验货完成。我确认{amount}的退款已经发出，预计{refund_days}个工作日内到账。",
                  "退货包裹显示已签收，但还没有验货。我已经请仓库同事优先处理，两个工作日内您就会收到退款通知。"]),
]

ZH_EMAILS = [
    dict(subjects=["您在{shop}的订单{order}已确认", "感谢您的订购，{name}", "订单确认通知：{order}"],
         body=["感谢您在{shop}购物！我们已经收到您的订单，正在为您准备商品。", "好消息：您的订单已确认，仓库同事很快就会开始打包。",
               "感谢您的订购！以下是订单摘要，方便您随时查看。"],
         details="订单号：{order}\n下单日期：{order_date}\n商品：{product} ×{qty}\n配送方式：{delivery_option}\n实付金额：{amount}\n预计送达：{eta}",
         extra=["订单状态为“已接单”时，您可以在账户中修改或取消订单；之后订单就会进入打包流程。", "包裹发出后，我们会再给您发送一条带有物流链接的通知。",
                "收货地址为{city}{street}。如地址有误，请尽快在“我的订单”中修改。"]),
    dict(subjects=["您的订单已发货", "订单{order}已发出", "{name}，您的包裹已经出库啦"],
         body=["您的包裹已从仓库发出，目前由{courier}负责配送。", "您购买的{product}已经在路上了，配送信息如下。", "我们已将您的订单交给{courier}，包裹正在赶来的路上。"],
         details="订单号：{order}\n快递公司：{courier}\n物流单号：{tracking}\n预计送达：{eta}\n收货地址：{city}{street}",
         extra=["物流信息最长可能需要24小时才会首次更新。", "如果届时不在家，可以在{courier}的物流页面选择放入快递柜或代收点。", "派送当天，快递员会通过短信告知您大致的送达时间。"]),
    dict(subjects=["关于您的订单{order}的最新进展", "您的包裹可能会晚到几天", "抱歉，您的订单配送有所延迟"],
         body=["非常抱歉，您的订单配送时间比预期要长。{reason}", "特此告知，您的包裹无法按原计划在{eta}送达。{reason}", "很遗憾，您的包裹出现了延误。{reason}"],
         details="订单号：{order}\n原预计送达：{eta}\n新的预计送达：{new_eta}",
         extra=["如果您不想继续等待，可以在“我的订单”中取消尚未发货的商品，款项将全额退回。", "为感谢您的耐心等待，我们已向您的账户发放一张{voucher}的优惠券，60天内有效。",
                "您无需进行任何操作，包裹恢复运输后我们会再次通知您。"]),
    dict(subjects=["您的订单已签收", "签收提醒：{product}", "您的包裹已送达"],
         body=["您的包裹已于{eta} {time}签收。", "{courier}显示您的订单已于{eta} {time}送达。", "您的订单{order}已经送达，希望商品让您满意。"],
         details="订单号：{order}\n签收时间：{eta} {time}\n收货地址：{city}{street}",
         extra=["如果没有找到包裹，请先查看物流页面上的签收照片或备注；如48小时内仍未找到，请及时联系我们。",
                "希望您喜欢新买的{product}。如果不合适，签收后{return_days}天内可以免费退货。", "欢迎给我们留下评价，您的反馈能帮助其他顾客，也能帮助我们做得更好。"]),
    dict(subjects=["您的退款已发起", "订单{order}退款通知", "{amount}退款已处理"],
         body=["我们已将{amount}退回至您的{payment}。", "好消息：您的退款已经处理完成。", "订单{order}的退款正在退回您的账户。"],
         details="订单号：{order}\n退款金额：{amount}\n退款方式：{payment}\n退款日期：{today}",
         extra=["根据银行处理速度不同，款项可能需要{refund_days}个工作日到账。", "退款在银行账单中会显示为“{shop}”。",
                "如果{refund_days}个工作日后仍未到账，可以凭退款流水号{tracking}向银行查询。"]),
    dict(subjects=["我们已收到您的退货", "订单{order}的退货已到仓", "退货进度更新"],
         body=["您的退货已到达仓库，我们会在三个工作日内完成验货。", "感谢您寄回商品，包裹已于{today}到达，我们会尽快处理。", "我们已收到您寄回的{product}。"],
         details="订单号：{order}\n退回商品：{product}\n到仓日期：{today}\n预计退款：{amount}",
         extra=["退款发出后，我们会再次通知您。", "如果您申请的是换货，新商品今天就会寄出。", "在退款到账之前，请保留好寄件凭证。"]),
    dict(subjects=["您的登录密码已修改", "安全提醒：您的账户在新设备上登录", "请确认最近的一次登录"],
         body=["您的{shop}账户密码已于{today} {time}修改。", "我们注意到您的账户于{today} {time}在{city}附近的一台新设备上登录。",
               "您的{shop}账户于{today}在一个新的浏览器上登录。"],
         details="日期：{today}\n时间：{time}\n大致位置：{city}\n设备：{device}",
         extra=["如果是您本人操作，无需进行任何处理。", "如果不是您本人操作，请立即通过登录页面的“忘记密码”重置密码，并联系我们协助保护账户安全。",
                "我们绝不会通过邮件或电话索要您的密码。如果收到此类信息，请不要回复。"]),
    dict(subjects=["您的{plan}即将续费", "续费提醒：会员将于{eta}自动续费", "{plan}续费通知"],
         body=["您的{plan}将于{eta}自动续费，费用为{plan_price}。", "温馨提醒：您的{plan}将在{eta}到期并自动续费。", "感谢您一直以来的支持，您的{plan}将于{eta}续费，以下是相关信息。"],
         details="会员类型：{plan}\n续费日期：{eta}\n续费金额：{plan_price}\n支付方式：{payment}",
         extra=["如需继续享受免运费和大促优先购等权益，您无需进行任何操作。", "如需取消或更换会员方案，请在续费日期前前往账户中的“我的会员”进行设置。",
                "如果您的银行卡已更换，请在“支付方式”中更新，以免权益中断。"]),
    dict(subjects=["付款未成功", "请更新您的支付信息", "订单{order}支付异常"],
         body=["我们尝试为订单{order}扣款{amount}，但被您的银行拒绝了。", "很遗憾，您最近一笔订单的付款没有成功。", "由于付款未完成，您的订单{order}目前处于暂停状态。"],
         details="订单号：{order}\n待付金额：{amount}\n支付方式：{payment}",
         extra=["请在48小时内更新支付信息，以便我们为您发货。逾期订单将自动取消，不会产生任何费用。",
                "通常检查一下银行卡有效期和账单地址，或在手机银行中确认这笔交易，就能解决问题。", "在此期间，商品会为您保留，不用担心被别人买走。"]),
]

ZH_POLICIES = [
    dict(titles=["退换货政策", "{shop}退换货说明"],
         intro=["我们希望您对每一件商品都满意。如果不合适，签收后{return_days}天内可以申请退货或换货。",
                "本政策说明了{shop}退换货的办理方式、商品需要满足的条件，以及退款所需的时间。"],
         sections=[
             ("退货期限", ["大部分商品签收后{return_days}天内可以退货。如果订单分多个包裹送达，期限从最后一个包裹签收之日算起。",
                       "退货期限为签收后{return_days}天。节假日期间我们会适当延长期限，具体日期以订单详情页显示为准。"]),
             ("商品状态要求", ["退回的商品应未经使用，包装完好，吊牌齐全。鞋类商品请仅在室内试穿。",
                         "请按收到时的状态寄回商品。已穿着、洗涤或组装过的商品，除质量问题外，恕不接受退货。"]),
             ("不支持退货的商品", ["出于健康和卫生原因，贴身衣物、耳饰和已拆封的个人护理用品不支持退货；定制商品除质量问题外也不支持退货。",
                            "少数商品不支持退货，包括礼品卡、定制商品和已拆封的卫生用品。购买前商品页面会明确标注。"]),
             ("如何办理退货", ["在账户的“我的订单”中或通过签收通知中的链接申请退货，选择寄件方式，打印退货单或保存二维码，并在七天内寄出。",
                         "退货需在线申请。选好商品和退货原因后，系统会生成退货单，并列出附近的{courier}服务点。"]),
             ("退货运费", ["将退货送到{courier}服务点寄出是免费的；如选择上门取件，{shipping_fee}的费用将从退款中扣除。",
                       "所有订单均可免费退货。如果您自行选择其他快递寄回，请保留物流单号，未能送达仓库的包裹我们无法退款。"]),
             ("换货", ["您可以将商品更换为同款的其他尺码或颜色。快递员扫描揽收您寄回的包裹后，我们就会寄出新商品。",
                     "换货免费。如果新的尺码或颜色缺货，我们将改为退款。"]),
         ]),
    dict(titles=["退款政策", "{shop}退款说明"],
         intro=["本页说明我们在什么情况下退款、如何退款，以及款项通常需要多长时间到账。",
                "我们力求让退款简单快捷。以下是取消订单、退货或订单出现问题后，您可以了解的退款流程。"],
         sections=[
             ("何时退款", ["订单取消后我们会立即退款；退货商品到达仓库后三个工作日内完成退款；商品缺失或有质量问题时，确认后即刻退款。",
                       "以下情况会发起退款：订单在发货前取消、退货验收完成，或确认商品丢失、损坏或存在质量问题。"]),
             ("退款方式", ["退款将原路退回。如果您使用了多种支付方式，例如礼品卡加银行卡，各部分会分别退回原支付账户。",
                       "我们始终将款项退回下单时使用的支付方式。出于安全考虑，无法退到其他银行卡或账户。"]),
             ("到账时间", ["退款发起后，银行卡一般在{refund_days}个工作日内到账；账户余额和礼品卡即时到账。",
                       "退款何时显示在账单中由银行决定，大多数情况下需要{refund_days}个工作日。"]),
             ("运费", ["整单退货，或商品存在质量问题、破损、与描述不符时，我们会退还原订单运费。",
                     "整单退货时退还标准运费；加急运费仅在订单延误送达时退还。"]),
             ("部分退款", ["如果退回的商品有使用痕迹或配件缺失，我们可能只退还部分金额，并会说明原因、提供商品照片。",
                       "在少数情况下会进行部分退款，例如商品退回时缺少原装配件。具体原因会通过邮件告知您。"]),
             ("价格变动", ["如果商品在您下单后七天内降价，可以联系我们，差价将以账户余额的形式退还。",
                       "下单后我们不调整价格，但您可以退回未使用的商品，再以新价格重新购买。"]),
         ]),
    dict(titles=["配送说明", "{shop}配送政策"],
         intro=["本页介绍我们的配送方式、费用和时效，以及配送出现问题时的处理办法。", "我们与{courier}等可靠的快递公司合作，确保您的订单安全、及时送达。"],
         sections=[
             ("配送方式", ["我们提供标准配送、加急配送（14:00前下单次日送达）以及免费自提点取件。结算页面会显示您的地址可选的配送方式。",
                       "您可以选择送货上门、次日达或到附近的自提点取件。"]),
             ("配送时效", ["标准配送需要3-5个工作日；工作日14:00前下单的加急订单，下一个工作日送达。",
                       "大部分订单会在{ship_days}个工作日内送达。家具等大件商品由两名师傅送货上门，送货前会提前电话预约时间。"]),
             ("配送费用", ["标准配送运费为{shipping_fee}，订单满{free_ship}免运费；自提点取件始终免费。", "订单满{free_ship}包邮，未满时标准配送运费为{shipping_fee}。"]),
             ("物流查询", ["每个包裹都有物流单号，发货后会通过短信或邮件发送给您，也可以在“我的订单”中查询。",
                       "订单出库后您会收到物流链接，派送当天还会收到短信提醒。"]),
             ("无人在家时", ["如果无人在家，快递员可能会将包裹放入您指定的位置、交给邻居代收，或送到附近的快递柜和代收点，并通过短信告知存放位置。",
                        "快递员最多会尝试派送两次，之后包裹会存放在代收点，保留七天后退回仓库。"]),
             ("延误与丢件", ["如果包裹延误超过两个工作日，或显示签收但没有找到，请联系我们。我们会与快递公司核查，如果包裹确实丢失，将为您补发或退款。",
                        "偶尔会出现包裹延误或丢失的情况，我们一定会妥善处理，为您补发新商品或全额退款。"]),
         ]),
    dict(titles=["隐私政策", "{shop}如何使用您的个人信息"],
         intro=["我们尊重您的隐私。本政策说明您在购物时我们会收集哪些个人信息、为什么需要这些信息，以及我们如何保护它们。",
                "您的信任对我们非常重要。以下用通俗的语言说明我们如何处理您的个人信息。"],
         sections=[
             ("我们收集哪些信息", ["我们会收集您主动提供的信息，例如姓名、邮箱、手机号和收货地址，以及您的订单记录和您发给客服的消息。",
                            "注册账户或下单时，我们会保存您的联系方式、地址和订单记录。我们不会保存完整的银行卡号，支付由合作的支付机构处理。"]),
             ("我们如何使用这些信息", ["我们使用这些信息来处理和配送订单、办理退换货和退款、保障账户安全，以及解答您的问题。",
                              "您的信息帮助我们发货、通知配送进度、防范欺诈和改进服务。只有在您同意的情况下，我们才会向您发送营销信息。"]),
             ("我们与谁共享信息", ["我们只会向{courier}等快递公司、支付机构和系统服务商提供必要的信息，绝不会出售您的个人信息。",
                            "快递公司会获得您的姓名、地址和电话，以便完成配送。除法律要求外，未经您的同意，其他任何人都无法获得您的信息。"]),
             ("信息保存期限", ["订单记录会按照财务相关法规的要求保存。如果您注销账户，其余信息将在30天内删除或匿名化处理。",
                         "客服对话记录保存两年，以便跟进尚未解决的问题；其他信息仅在必要期限内保存。"]),
             ("您的权利", ["您可以随时在账户设置中查看、下载或更正个人信息，也可以申请注销账户。",
                       "您可以一键退订营销信息、关闭个性化推荐，并申请获取我们保存的个人信息副本。"]),
             ("账户安全", ["我们通过加密和严格的权限管理保护您的信息。开启双重验证可以为账户再加一道保护。",
                       "只有在为您提供服务时确实需要的员工才能查看您的信息，且每次访问都会被记录。"]),
         ]),
]

ZH_TIPS = [
    "在账户中保存常用收货地址，每次结算时就不用重复填写了。", "开启双重验证只需要两分钟，却能大大降低账户被他人登录的风险。",
    "在退货期限结束之前，请保留订单确认信息，申请退货时用得上。", "请使用在其他网站没有用过的密码，也可以考虑使用密码管理工具。",
    "在地址备注里写上“放门口鞋柜”等说明，不在家时快递员也能妥善放置包裹。", "下单前先看看商品页面的尺码表，大部分换货都是因为尺码不合适。",
    "包裹延误时，先看看物流页面，快递公司通常会在那里更新新的预计送达时间。", "退款到账之前，请保留好寄件凭证。",
    "报销需要的发票可以直接在“我的订单”中下载，无需联系客服。", "在会员续费前几天设个提醒，方便您决定是否继续使用。",
    "联系客服时请准备好订单号，它由一个字母和七位数字组成，例如{order}。", "商品有破损时拍一张照片，客服往往一次就能帮您处理好。",
    "手机号变更后请及时更新，以免收不到登录验证码和物流短信。", "预授权冻结的金额并不是正式扣款，订单取消后几天内会自动解除。",
    "在App中开启配送通知，包裹开始派送时您会第一时间知道。", "订单满{free_ship}即可包邮，可以考虑合并下单。",
    "白天家里没人的话，可以选择自提点取件，包裹会保留七天。", "我们绝不会向您索要密码或完整卡号。如有人索要，请不要提供，并及时告诉我们。",
    "下单前留意商品页面的退货说明，大部分商品支持退货，少数商品因卫生原因不支持。", "如需修改订单请尽快操作，订单开始打包后就无法修改了。",
    "账户余额长期有效，结算时可以与银行卡组合使用。", "收到礼品卡后可以先绑定到账户，以免卡号丢失。",
    "搬家后记得删除地址簿中的旧地址，避免包裹寄错地方。", "查不到退款时，请在银行账单中查找“{shop}”，而不是订单号。",
    "在公共电脑上购物后请退出登录，也不要让浏览器记住密码。", "会员可以暂停最长三个月，不一定非要取消。",
    "咨询配送问题时，在线客服通常是最快的联系方式。", "退货时请用原包装或结实的纸箱包好，避免运输途中损坏。",
    "请注意要求您点击链接补缴运费的短信，{courier}等快递公司不会通过短信索要银行卡信息。", "发现重复扣款时，先确认其中一笔是否仍在“处理中”，再决定是否联系银行。",
    "收货地址请写到门牌号，小区名称和楼栋号越详细，派送越顺利。", "大件商品送货前会电话预约，请保持手机畅通。",
]

ZH = dict(
    lang="zh", sp="", customer="顾客：", agent_label="客服：", slots=ZH_SLOTS,
    knobs=dict(both_explain=0.95, all_notes=0.9, related=0.7, faq=(4, 6), chat_steps=0.85, chat_follow=0.85,
               chat_second=0.6, email_extra=3, tips=(9, 13), policy_drop=1),
    issues=ZH_ISSUES, emails=ZH_EMAILS, policies=ZH_POLICIES, tips=ZH_TIPS,
    topic_labels=dict(account="账户与登录", order="订单问题", billing="支付与账单", delivery="配送与物流", returns="退换货"),
    num_styles=["{i}. ", "{i}、", "第{cn}步：", "（{i}）"],
    bullets=["• ", "- "],
    updated=["更新日期：{policy_date}", "最近更新：{policy_date}"],
    related=["相关文章：", "您可能还想了解："],
    article_leads=["操作步骤如下：", "具体操作方法：", "请按照以下步骤操作：", "您可以这样做："],
    chat_leads=["下次您也可以自己这样操作：", "如果想自己查看，步骤是这样的：", "具体步骤如下：", "给您发一下操作步骤，方便以后使用："],
    more_help=["仍需帮助？在线客服每天{hours}为您服务，准备好订单号可以让我们更快地帮您处理。",
               "如果以上方法没有解决问题，请在帮助中心选择“{topic_label}”并提交问题，我们一般会在一个工作日内回复。",
               "没找到想要的答案？可以在{shop}App中联系在线客服，或在工作日{hours}拨打客服热线。",
               "我们随时为您提供帮助。如果问题仍未解决，请联系我们，客服会专门为您跟进处理。",
               "本文对您有帮助吗？如有其他疑问，回复任意订单通知邮件即可联系到我们的客服团队。",
               "对于本文未涉及的问题，最快的方式是联系在线客服；您也可以发送邮件，我们会在24小时内回复。"],
    faq_headers=["常见问题：{topic_label}", "{shop}帮助中心 | {topic_label}常见问题", "关于{topic_label}，您可能想知道", "{topic_label}问题解答"],
    faq_intros=["以下整理了顾客最常咨询的几个问题，希望能帮您快速找到答案。", "在联系客服之前，不妨先看看下面的解答，大部分问题都可以自助解决。",
                "我们汇总了{shop}顾客关于{topic_lower}最常见的疑问，并给出了简明的解答。"],
    qa_styles=[("问：", "答："), ("Q：", "A："), ("", "")],
    faq_steps_lead=["操作方法：", "具体步骤：", "步骤如下："],
    chat_headers=["{shop}在线客服聊天记录（{today}）", "会话记录 | {shop}客服中心 | {today}", "{today} {shop}客服对话"],
    cust_prefix=["你好，", "您好，", "在吗？", "客服你好，", "", "", "麻烦问一下，"],
    agent_greet=["您好，欢迎咨询{shop}，我是客服{agent}。", "您好，我是{shop}客服{agent}，很高兴为您服务。", "您好，感谢您的耐心等待，我是{agent}。",
                 "您好，{shop}客服中心，我是{agent}。", "您好！我是{agent}，接下来由我为您处理。"],
    empathy=["听到这个情况很抱歉，我会尽力帮您解决。", "非常理解您的心情，我们一起来看看怎么处理。", "感谢您告诉我们，这个问题我来帮您处理。",
             "给您添麻烦了，我马上帮您查一下。", "这确实不是我们希望您遇到的情况，非常抱歉。", "没问题，这个我可以帮您。",
             "能理解您会担心，我先帮您看看具体情况。", "让您久等了，谢谢您的耐心。"],
    request=dict(
        account=["为了帮您核实，麻烦提供一下账户绑定的邮箱地址，不需要告诉我密码。", "请问您登录用的邮箱是哪个呢？", "麻烦告诉我一下账户绑定的邮箱，我来帮您查询。"],
        order=["麻烦提供一下订单号，是一个字母加七位数字。", "请问您的订单号是多少？可以在订单确认通知里找到。", "方便告诉我订单号吗？我帮您调出订单详情。"],
        charge=["麻烦告诉我一下这笔扣款的日期和金额，以账单上显示的为准。", "请问这笔款项是哪天扣的，金额是多少？"]),
    provide=dict(account=["好的，是{email}。", "我的邮箱是{email}。", "{email}，麻烦了。"],
                 order=["订单号是{order}。", "好的，{order}。", "是{order}，麻烦了。", "我看一下……是{order}。"],
                 charge=["是{order_date}扣的，金额{amount}。", "{order_date}，{amount}。", "账单上写的是{order_date}，{amount}。"]),
    check=["好的，谢谢，请稍等，我帮您查询一下。", "收到，正在为您查询。", "谢谢，我查到了。", "好的，稍等片刻。", "感谢您的等待，详细情况我已经看到了。"],
    followups=["好的，还有什么需要注意的吗？", "明白了，还有其他需要留意的地方吗？", "那我还需要做什么吗？", "好的，还有别的要提醒我的吗？"],
    followup_answers=["还有一点需要提醒您：{note}", "有的，{note}", "{note}", "这个问题问得好。{note}"],
    second_q=["还有个问题想问一下：{q}", "顺便问一下，{q}", "另外，{q}"],
    second_a=["好的，我来解答一下。{a}", "这个问题是这样的：{a}", "没问题。{a}"],
    thanks=["太好了，非常感谢！", "好的，谢谢你帮我处理。", "明白了，谢谢，没有其他问题了。", "这么快就解决了，谢谢{agent}！", "好的，辛苦了。"],
    closing=["不客气！如果还有其他问题，每天{hours}都可以通过在线客服联系我们。", "很高兴能帮到您。大部分常见问题在帮助中心都能找到解答哦。",
             "不客气，如需其他帮助，直接回复订单通知邮件就能联系到我们。", "能帮到您我也很开心，祝您生活愉快！",
             "不客气。如果问题再次出现，欢迎再次联系我们，提一下这次的对话，我们可以更快跟进。", "感谢您对{shop}的支持，祝您购物愉快！"],
    subject="主题：",
    email_greetings=["{name}，您好：", "尊敬的{name}：", "亲爱的{name}，您好！"],
    email_footers=["如有疑问，请访问帮助中心，或在每天{hours}联系在线客服。", "此邮件发送至{email}，因为您是{shop}的注册用户。",
                   "此邮件由系统自动发送，请勿直接回复。如需帮助，请在App或网站上联系在线客服。", "您可以在账户的“消息设置”中选择接收哪些通知。"],
    signoffs=["{shop}客服团队", "祝您生活愉快！\n{shop}客服中心", "感谢您的支持！\n{shop}全体员工", "此致\n{shop}客服团队"],
    policy_outros=["如对本政策有任何疑问，请通过在线客服或帮助中心联系我们。", "我们可能会不定期更新本页内容，页面顶部的日期为最近一次更新的时间。",
                   "需要处理具体订单？客服团队每天{hours}在线为您服务。"],
    tips_headers=["{n}个小技巧，让您在{shop}购物更省心", "联系客服之前，先看看这{n}条小贴士", "{shop}客服团队的购物小贴士", "购物、配送、退换货：{n}条实用建议"],
    tips_intros=["我们的客服团队每周都会解答成千上万个问题。养成下面这些小习惯，可以避免很多常见的麻烦。",
                 "几个简单的小步骤，就能在下单、查物流和退货时为您节省不少时间。", "我们问了客服同事最常给顾客的建议，整理在了这里。"],
)

PACKS = dict(en=EN, zh=ZH)

# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def _format_date(lang: str, day: dt.date, with_year: bool = False) -> str:
    if lang == "en":
        text = f"{MONTHS[day.month - 1]} {day.day}"
        return f"{text}, {day.year}" if with_year else text
    text = f"{day.month}月{day.day}日"
    return f"{day.year}年{text}" if with_year else text


def _money(rng: random.Random, lang: str, symbol: str, low: float, high: float, cents: bool = True) -> str:
    value = rng.randint(int(low), int(high))
    if cents:
        value += rng.choice([0.0, 0.99, 0.5, 0.95, 0.49, 0.9]) if lang == "en" else rng.choice([0.0, 0.0, 0.9, 0.5])
    if lang == "en":
        return f"{symbol}{value:,.2f}"
    return f"¥{value:,.2f}" if symbol == "¥" else f"{value:.2f}元"


def make_ctx(rng: random.Random, pack: dict) -> dict:
    """Draw one consistent set of slot values for a single document."""
    lang, slots = pack["lang"], pack["slots"]
    ctx = {key: rng.choice(values) for key, values in slots.items()}
    order_date = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
    ship_date = order_date + dt.timedelta(days=rng.randint(1, 2))
    eta = ship_date + dt.timedelta(days=rng.randint(2, 4))
    new_eta = eta + dt.timedelta(days=rng.randint(2, 5))
    today = eta + dt.timedelta(days=rng.randint(0, 6))
    dates = dict(order_date=order_date, ship_date=ship_date, eta=eta, new_eta=new_eta, today=today)
    for key, day in dates.items():
        ctx[key] = _format_date(lang, day)
    ctx["policy_date"] = _format_date(lang, order_date, with_year=True)
    ctx["order"] = rng.choice("ABCDEHKMNPRSTW") + str(rng.randint(1_000_000, 9_999_999))
    prefix = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXY") for _ in range(2))
    ctx["tracking"] = prefix + str(rng.randint(10**9, 10**10 - 1))
    ctx["phone_tail"] = f"{rng.randint(0, 9999):04d}"
    ctx["card_tail"] = f"{rng.randint(0, 9999):04d}"
    ctx["qty"] = rng.choice([1, 1, 1, 2, 2, 3])
    ctx["link_minutes"] = rng.choice([15, 30, 60])
    ctx["code_minutes"] = rng.choice([5, 10, 15])
    ctx["lock_minutes"] = rng.choice([15, 30, 60])
    ctx["hold_days"] = rng.choice([3, 5, 7])
    ctx["ship_days"] = rng.choice([2, 3, 4, 5])
    ctx["return_days"] = rng.choice([14, 15, 30, 30, 60])
    hour, minute = rng.randint(8, 20), rng.choice([5, 10, 15, 20, 25, 30, 40, 45, 50, 55])
    if lang == "en":
        symbol = rng.choice(["$", "£", "€"])
        ctx["time"] = f"{(hour - 1) % 12 + 1}:{minute:02d} {'am' if hour < 12 else 'pm'}"
        ctx["amount"] = _money(rng, lang, symbol, 8, 320)
        ctx["shipping_fee"] = symbol + rng.choice(["3.99", "4.95", "5.99", "7.50", "9.99"])
        ctx["free_ship"] = symbol + str(rng.choice([25, 30, 35, 40, 50]))
        ctx["small_value"] = symbol + str(rng.choice([10, 15, 20]))
        ctx["voucher"] = symbol + str(rng.choice([5, 10, 15]))
        ctx["plan_price"] = symbol + rng.choice(["49.00", "59.00", "79.00", "99.00", "7.99"])
        ctx["email"] = f"{ctx['name'].lower()}{rng.choice(['', '.', '_'])}{rng.randint(1, 99)}@example.com"
        ctx["payment"] = rng.choice([f"card ending in {ctx['card_tail']}"] * 3 + ["gift card", "store credit balance"])
    else:
        symbol = rng.choice(["¥", "元"])
        ctx["time"] = f"{hour}:{minute:02d}"
        ctx["amount"] = _money(rng, lang, symbol, 19, 2999)
        ctx["shipping_fee"] = _money(rng, lang, symbol, 6, 15, cents=False)
        ctx["free_ship"] = f"{rng.choice([49, 59, 88, 99])}元"
        ctx["small_value"] = f"{rng.choice([30, 50, 100])}元"
        ctx["voucher"] = f"{rng.choice([10, 20, 30])}元"
        ctx["plan_price"] = _money(rng, lang, symbol, 88, 198, cents=False)
        ctx["email"] = f"{ctx['pinyin']}{rng.randint(1, 99)}@example.com"
        ctx["payment"] = rng.choice([f"尾号{ctx['card_tail']}的银行卡"] * 3 + ["礼品卡", "账户余额"])
    return ctx


def pick(rng: random.Random, items: list, ctx: dict) -> str:
    return rng.choice(items).format_map(ctx)


def set_topic(pack: dict, ctx: dict, topic: str) -> None:
    label = pack["topic_labels"][topic]
    ctx["topic_label"] = label
    ctx["topic_lower"] = label.lower() if pack["lang"] == "en" else label


def render_steps(rng: random.Random, pack: dict, issue: dict, ctx: dict) -> str:
    # Issues with their own lead line list items (such as statuses) rather than actions: plain numbers only.
    style = rng.choice(pack["num_styles"][:2] if "lead" in issue else pack["num_styles"])
    steps = issue["steps"]
    lines = []
    for i, step in enumerate(steps, 1):
        text = rng.choice(step) if isinstance(step, list) else step
        lines.append(style.format(i=i, cn=CN_NUM[i]) + text.format_map(ctx))
    return "\n".join(lines)


def build_article(rng: random.Random, pack: dict, ctx: dict) -> str:
    issue = rng.choice(pack["issues"])
    set_topic(pack, ctx, issue["topic"])
    parts = [pick(rng, issue["titles"], ctx)]
    if rng.random() < 0.35:
        parts.append(pick(rng, pack["updated"], ctx))
    knobs = pack["knobs"]
    if rng.random() < knobs["both_explain"]:
        parts.extend(text.format_map(ctx) for text in issue["explain"])
    else:
        parts.append(issue["explain"][0].format_map(ctx))
    lead = issue.get("lead") or rng.choice(pack["article_leads"])
    parts.append(lead + "\n" + render_steps(rng, pack, issue, ctx))
    notes = issue["notes"] if rng.random() < knobs["all_notes"] else [rng.choice(issue["notes"])]
    parts.extend(note.format_map(ctx) for note in notes)
    if rng.random() < knobs["related"]:
        others = [i for i in pack["issues"] if i["topic"] == issue["topic"] and i is not issue]
        bullet = rng.choice(pack["bullets"])
        titles = [bullet + pick(rng, other["titles"], ctx) for other in rng.sample(others, min(3, len(others)))]
        parts.append(rng.choice(pack["related"]) + "\n" + "\n".join(titles))
    parts.append(pick(rng, pack["more_help"], ctx))
    return "\n\n".join(parts)


def build_faq(rng: random.Random, pack: dict, ctx: dict) -> str:
    topic = rng.choice(TOPICS)
    set_topic(pack, ctx, topic)
    pool = [issue for issue in pack["issues"] if issue["topic"] == topic]
    low, high = pack["knobs"]["faq"]
    chosen = rng.sample(pool, rng.randint(min(low, len(pool)), min(high, len(pool))))
    parts = [pick(rng, pack["faq_headers"], ctx)]
    if rng.random() < 0.5:
        parts.append(pick(rng, pack["faq_intros"], ctx))
    q_prefix, a_prefix = rng.choice(pack["qa_styles"])
    for issue in chosen:
        index = rng.randrange(len(issue["questions"]))
        answer = issue["explain"][index].format_map(ctx)
        roll = rng.random()
        if roll < 0.35:
            lead = issue.get("lead") or rng.choice(pack["faq_steps_lead"])
            answer += "\n" + lead + "\n" + render_steps(rng, pack, issue, ctx)
        elif roll < 0.75:
            answer += pack["sp"] + pick(rng, issue["notes"], ctx)
        parts.append(f"{q_prefix}{issue['questions'][index].format_map(ctx)}\n{a_prefix}{answer}")
    parts.append(pick(rng, pack["more_help"], ctx))
    return "\n\n".join(parts)


def build_chat(rng: random.Random, pack: dict, ctx: dict) -> str:
    issue = rng.choice(pack["issues"])
    topic = issue["topic"]
    set_topic(pack, ctx, topic)
    kind = issue.get("info") or ("account" if topic == "account" else "order")
    cust, agent, sp = pack["customer"], pack["agent_label"], pack["sp"]
    turns = []
    if rng.random() < 0.5:
        turns.append(pick(rng, pack["chat_headers"], ctx))
    ask = rng.randrange(len(issue["asks"]))
    turns.append(cust + rng.choice(pack["cust_prefix"]) + issue["asks"][ask].format_map(ctx))
    turns.append(agent + pick(rng, pack["agent_greet"], ctx) + sp + pick(rng, pack["empathy"], ctx))
    turns.append(agent + pick(rng, pack["request"][kind], ctx))
    turns.append(cust + pick(rng, pack["provide"][kind], ctx))
    action = issue["actions"][ask] if issue.get("paired") else rng.choice(issue["actions"])
    turns.append(agent + pick(rng, pack["check"], ctx) + sp + action.format_map(ctx))
    knobs = pack["knobs"]
    if rng.random() < knobs["chat_steps"]:
        lead = issue.get("lead") or rng.choice(pack["chat_leads"])
        turns.append(agent + lead + "\n" + render_steps(rng, pack, issue, ctx))
    if rng.random() < knobs["chat_follow"]:
        turns.append(cust + rng.choice(pack["followups"]))
        note = pick(rng, issue["notes"], ctx)
        turns.append(agent + rng.choice(pack["followup_answers"]).format(note=note))
    if rng.random() < knobs["chat_second"]:
        other = rng.choice([i for i in pack["issues"] if i["topic"] == topic and i is not issue])
        index = rng.randrange(len(other["questions"]))
        question, answer = other["questions"][index].format_map(ctx), other["explain"][index].format_map(ctx)
        turns.append(cust + rng.choice(pack["second_q"]).format(q=question))
        turns.append(agent + rng.choice(pack["second_a"]).format(a=answer))
    turns.append(cust + pick(rng, pack["thanks"], ctx))
    turns.append(agent + pick(rng, pack["closing"], ctx))
    return "\n".join(turns)


def build_email(rng: random.Random, pack: dict, ctx: dict) -> str:
    email = rng.choice(pack["emails"])
    parts = [pack["subject"] + pick(rng, email["subjects"], ctx), pick(rng, pack["email_greetings"], ctx),
             pick(rng, email["body"], ctx), email["details"].format_map(ctx)]
    parts.extend(text.format_map(ctx) for text in rng.sample(email["extra"], rng.randint(pack["knobs"]["email_extra"], 3)))
    parts.append(pick(rng, pack["signoffs"], ctx))
    parts.extend(text.format_map(ctx) for text in rng.sample(pack["email_footers"], rng.randint(1, 2)))
    return "\n\n".join(parts)


def build_policy(rng: random.Random, pack: dict, ctx: dict) -> str:
    policy = rng.choice(pack["policies"])
    parts = [pick(rng, policy["titles"], ctx), pick(rng, pack["updated"], ctx), pick(rng, policy["intro"], ctx)]
    sections = policy["sections"]
    count = rng.randint(len(sections) - pack["knobs"]["policy_drop"], len(sections))
    keep = sorted(rng.sample(range(len(sections)), count))
    numbered = rng.random() < 0.5
    for n, index in enumerate(keep, 1):
        heading, texts = sections[index]
        heading = f"{n}. {heading}" if numbered else heading
        parts.append(heading + "\n" + pick(rng, texts, ctx))
    parts.append(pick(rng, pack["policy_outros"], ctx))
    return "\n\n".join(parts)


def build_tips(rng: random.Random, pack: dict, ctx: dict) -> str:
    n = rng.randint(*pack["knobs"]["tips"])
    ctx["n"] = n
    tips = [tip.format_map(ctx) for tip in rng.sample(pack["tips"], n)]
    parts = [pick(rng, pack["tips_headers"], ctx)]
    if rng.random() < 0.6:
        parts.append(pick(rng, pack["tips_intros"], ctx))
    if rng.random() < 0.5:
        style = rng.choice(pack["num_styles"][:2])
        parts.append("\n".join(style.format(i=i) + tip for i, tip in enumerate(tips, 1)))
    else:
        bullet = rng.choice(pack["bullets"])
        parts.append("\n".join(bullet + tip for tip in tips))
    set_topic(pack, ctx, rng.choice(TOPICS))
    parts.append(pick(rng, pack["more_help"], ctx))
    return "\n\n".join(parts)


BUILDERS = [
    (build_article, 25), (build_chat, 30), (build_faq, 16), (build_email, 16), (build_tips, 8), (build_policy, 5),
]


def generate(seed: int, target_bytes: int = TARGET_BYTES) -> list[str]:
    """Return a deduplicated, shuffled list of documents, alternating languages."""
    rng = random.Random(seed)
    builders = [builder for builder, _ in BUILDERS]
    weights = [weight for _, weight in BUILDERS]
    seen: set[str] = set()
    docs: list[str] = []
    total, attempts = 0, 0
    while total < target_bytes:
        attempts += 1
        if attempts > 100_000:
            raise RuntimeError("too many duplicate documents; add more templates")
        pack = PACKS["en" if len(docs) % 2 == 0 else "zh"]
        builder = rng.choices(builders, weights)[0]
        text = builder(rng, pack, make_ctx(rng, pack))
        if text in seen:
            continue
        seen.add(text)
        docs.append(text)
        total += len(text.encode("utf-8"))
    rng.shuffle(docs)
    return docs


def write_jsonl_gz(rows: list[dict], out: Path) -> bytes:
    """Rows as gzipped JSONL with a zero timestamp, so the same rows always give the same bytes."""
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        gz.write(payload)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return payload


def parse_args(doc: str, default_out: Path, default_seed: int) -> argparse.Namespace:
    """The data scripts' shared command line: --out PATH and --seed N."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out, help="output .jsonl.gz path")
    parser.add_argument("--seed", type=int, default=default_seed, help="random seed")
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT, DEFAULT_SEED)
    docs = generate(args.seed)
    payload = write_jsonl_gz([{"text": doc} for doc in docs], args.out)
    print(f"wrote {len(docs)} documents, {len(payload):,} bytes uncompressed, "
          f"{args.out.stat().st_size:,} bytes compressed -> {args.out}")


if __name__ == "__main__":
    main()
