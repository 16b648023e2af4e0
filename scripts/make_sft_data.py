"""Generate the embedded demo SFT data (customer-service assistant, English and Chinese).

Usage:
    python scripts/make_sft_data.py [--out PATH] [--seed N]

The output is a gzipped JSONL file. Single-turn rows are ``{"prompt": ..., "answer": ...}``; multi-turn rows are
``{"messages": [{"role": ..., "content": ...}, ...]}`` (optionally starting with a short system turn).
Every answer follows one house style: a brief acknowledgement, 2-5 numbered steps, where to get more help, and a
polite close. The shops, products and couriers are the imaginary ones of the pretraining corpus
(``scripts/make_corpus.py``). The same seed always produces a byte-identical file.
"""

# Template sentences are kept one per line so they are easy to read and edit.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import json
import random
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import EN, EN_SLOTS, MONTHS, ZH, ZH_SLOTS, parse_args, write_jsonl_gz  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "alignkit" / "assets" / "sft.jsonl.gz"
DEFAULT_SEED = 20240612
SINGLE_PER_LANG = 200  # single-turn rows per language, anchors included
MULTI_PER_LANG = 40  # multi-turn rows per language
ANCHOR_REPEATS = 6  # rows per language whose prompt is the anchor verbatim
ANCHORS = dict(en="I can't log in to my account, what should I do?", zh="我不能登录我的账号，我该怎么办？")
# Answer length limits: words for English, characters for Chinese.
LIMITS = dict(en=(40, 110), zh=(60, 200))

# ---------------------------------------------------------------------------
# Slot values shared with the corpus, plus the few the SFT data adds
# ---------------------------------------------------------------------------

TOPIC_LABELS = dict(en=dict(EN["topic_labels"], general="Contact us"), zh=dict(ZH["topic_labels"], general="联系我们"))
ZH_DOMAINS = {
    "云杉商城": "yunshan",
    "青禾优选": "qinghe",
    "星河小铺": "xinghe",
    "橙子生活馆": "chengzi",
    "远山好物": "yuanshan",
    "蓝湾百货": "lanwan",
    "木棉家居": "mumian",
    "白桦数码": "baihua",
    "小满优品": "xiaoman",
}

# ---------------------------------------------------------------------------
# Shared answer parts
# ---------------------------------------------------------------------------

EN_PARTS = dict(
    greet=["Hi there! ", "Hello! ", "Hi! "],
    leads=[
        "Here's what to do:",
        "Please try these steps:",
        "Here's how:",
        "Let's sort it out step by step:",
        "These steps should help:",
    ],
    help=[
        "If you need more help, see “{topic_label}” in our Help Centre or chat with us from {hours}.",
        "Still need help? Live chat is open {hours} every day, or you can email {support_email}.",
        "For anything else, start a live chat in the {shop} app ({hours}) or call us on weekdays.",
        "Our Help Centre has more guides, and our team is on live chat from {hours}.",
        "If that doesn't solve it, email {support_email} or use live chat ({hours}), and we'll sort it out.",
    ],
    closing=[
        "Have a great day!",
        "Thanks for your patience!",
        "Thank you for shopping with {shop}!",
        "We're always happy to help.",
        "Hope this helps, and have a lovely day!",
        "Thanks for reaching out!",
    ],
    prefix=["Hi! ", "Hello. ", "Hey, quick question. ", "Good morning. ", "Hi there. ", "", "", "", "", ""],
    suffix=[" Thanks.", " Thanks in advance!", " Please help.", "", "", "", "", ""],
    system=[
        "You are the customer-service assistant of {shop}.",
        "You are {shop}'s support assistant.",
        "You are a friendly customer-service assistant for {shop}. Be kind and give clear steps.",
    ],
    connect=[
        "Thanks! One more question. ",
        "Great, thank you. I have another question. ",
        "Got it. Something else: ",
        "OK, thanks. ",
    ],
    thanks=[
        "Thanks, that worked!",
        "Perfect, thank you so much.",
        "Great, that's all I needed. Thanks!",
        "Thank you, very helpful.",
    ],
    thanks_answers=[
        "You're very welcome, I'm glad it's sorted! If anything else comes up, our live chat is open {hours}. Have a great day!",
        "Glad I could help! The Help Centre is there anytime, and you can reach us at {support_email}. Take care!",
        "Happy to help! If you need us again, just start a live chat in the {shop} app. Have a lovely day!",
        "My pleasure! If you have any other questions, we're on live chat every day from {hours}. Thanks for shopping with {shop}!",
    ],
)

ZH_PARTS = dict(
    greet=["您好！", "您好，", "亲，您好！"],
    leads=["请按以下步骤操作：", "您可以这样处理：", "具体步骤如下：", "您可以这样做：", "操作方法如下："],
    help=[
        "更多帮助请看帮助中心“{topic_label}”，或联系在线客服。",
        "仍未解决的话，可联系在线客服或发邮件至{support_email}。",
        "还有疑问可在{shop}App联系在线客服（每天{hours}）。",
        "更多说明见帮助中心，工作日{hours}也可拨打客服热线。",
    ],
    closing=[
        "祝您生活愉快！",
        "祝您购物愉快！",
        "有任何问题随时找我们哦。",
        "感谢您对{shop}的支持！",
        "希望能帮到您！",
    ],
    prefix=["你好，", "您好，", "在吗？", "客服你好，", "麻烦问一下，", "", "", "", "", ""],
    suffix=["谢谢！", "麻烦帮忙看看。", "急，谢谢。", "", "", "", "", ""],
    system=[
        "你是{shop}的客服助手。",
        "你是{shop}的智能客服。",
        "你是{shop}的在线客服助手，请礼貌、耐心地回答顾客的问题。",
    ],
    connect=["好的，谢谢！还有一个问题，", "明白了。另外，", "好的。顺便问一下，", "谢谢。还想问一下，"],
    thanks=["好的，解决了，谢谢！", "太好了，非常感谢。", "明白了，没有其他问题了，谢谢！", "谢谢，很有帮助。"],
    thanks_answers=[
        "不客气，很高兴问题解决了！如有其他问题，在线客服每天{hours}都在。祝您生活愉快！",
        "能帮到您真好！帮助中心随时可以查看，也可以发邮件至{support_email}联系我们。祝您购物愉快！",
        "不客气！以后有需要，直接在{shop}App里找在线客服就可以。祝您一切顺利！",
        "很高兴为您服务！如有其他疑问，欢迎每天{hours}联系在线客服。感谢您对{shop}的支持！",
    ],
)

# ---------------------------------------------------------------------------
# Intents
#
# Each intent: prompts (paraphrases; slots are filled per row), empathy (opening lines), steps (each a string or a
# list of alternatives), opt (indices of steps that may be left out), and optionally help (replaces the generic
# help lines) and lead (replaces the generic step leads). {order_ref} / {product_ref} in steps name the order or
# product when the customer mentioned it, and stay generic otherwise.
# ---------------------------------------------------------------------------

EN_INTENTS = [
    # --- account ---
    dict(
        key="login",
        topic="account",
        prompts=[
            "I can't sign in to my {shop} account.",
            "Login isn't working for me. It just says my details are wrong.",
            "the app won't let me log in anymore",
            "Why can't I access my account? I'm sure my password is right.",
            "Every time I try to sign in I get an error. Help!",
            "I'm unable to log into my account on the website.",
            "Good afternoon. I have been unable to sign in to my account since yesterday. Could you advise?",
            "Can't log in, what do I do?",
        ],
        empathy=[
            "I'm sorry you can't log in; I know how frustrating that is.",
            "Sorry you're stuck outside your account, let's get you back in.",
            "I understand how annoying it is when you can't sign in. I'm happy to help.",
        ],
        steps=[
            [
                "Check your email or username, and that Caps Lock is off.",
                "Double-check your email or username and make sure Caps Lock is off.",
            ],
            [
                "Reset your password with “Forgot password” on the sign-in page.",
                "Unsure of your password? Reset it with “Forgot password”.",
            ],
            [
                "Clear your browser cache, or try the app or another browser.",
                "Clear your cache and cookies, or use the app or a different browser.",
            ],
            [
                "If you're locked out after too many tries, wait 15 minutes.",
                "Too many attempts lock the account for 15 minutes, so wait and retry.",
            ],
        ],
        help=[
            "Still can't get in? Start a live chat ({hours}), visit the Help Centre, or email {support_email}.",
            "If you're still stuck, our Help Centre has a sign-in guide, live chat is open {hours}, and you can email {support_email}.",
        ],
    ),
    dict(
        key="forgot_password",
        topic="account",
        prompts=[
            "I forgot my password.",
            "How do I reset my password?",
            "I can't remember my password for {shop}, can you help?",
            "forgot my password again, how do i change it",
            "Could you please tell me how to set a new password for my account?",
            "What's the quickest way to reset a forgotten password?",
            "I need a new password, the old one isn't working.",
        ],
        empathy=[
            "No worries, forgotten passwords happen to all of us.",
            "Sorry about the hassle; resetting it only takes a minute.",
            "I understand, let's get you a new password.",
        ],
        steps=[
            "Go to the sign-in page and select “Forgot password”.",
            "Enter the email address linked to your account.",
            [
                "Open our email and click the reset link within 30 minutes.",
                "Click the link in the reset email; it's valid for 30 minutes.",
            ],
            "Choose a new password of at least 10 characters and sign in.",
        ],
    ),
    dict(
        key="reset_email_missing",
        topic="account",
        prompts=[
            "The password reset email never arrived.",
            "I requested a password reset three times but got nothing.",
            "Where is my reset link? I've been waiting for 20 minutes.",
            "I'm not receiving the “forgot password” email.",
            "Your reset emails don't reach me. What now?",
            "no reset email in my inbox, I checked twice",
        ],
        empathy=[
            "I'm sorry the reset email hasn't reached you; that's frustrating.",
            "Sorry for the wait, let's track that email down.",
        ],
        steps=[
            "Check your spam, junk and promotions folders.",
            "Make sure you entered the same email address you registered with.",
            "Request one new link and wait 10 minutes; only the newest link works.",
            "Add our address to your contacts so it isn't filtered.",
        ],
        opt=[3],
    ),
    dict(
        key="locked",
        topic="account",
        prompts=[
            "My account is locked.",
            "It says my account has been temporarily locked. Why?",
            "I typed my password wrong a few times and now I'm locked out.",
            "How long does an account lock last?",
            "Account locked after too many attempts, please unlock it.",
            "Why was my {shop} account blocked?",
        ],
        empathy=[
            "Sorry about that; a lock is a safety measure, and it's easy to lift.",
            "I understand how inconvenient that is. Your orders and details are safe.",
        ],
        steps=[
            "Wait 15 minutes; further attempts during that time restart the timer.",
            "If you're unsure of your password, use “Forgot password” instead of guessing.",
            "Open the lock email we sent and confirm whether the attempts were you.",
            "If they weren't you, set a new password right away.",
        ],
        opt=[3],
    ),
    dict(
        key="change_email",
        topic="account",
        prompts=[
            "How do I change the email on my account?",
            "I want to update my email address.",
            "I no longer use my old email. Can I switch to a new one?",
            "Please help me change my login email to a new address.",
            "can i change my email without losing my orders?",
            "Where do I edit my email address in my profile?",
        ],
        empathy=[
            "Happy to help you update your email.",
            "Of course, that's easy to change, and your orders stay with your account.",
            "Thanks for keeping your details up to date.",
        ],
        steps=[
            "Sign in and open “Account settings”.",
            "Select “Email address”, then “Change”.",
            "Enter the new address and your current password.",
            "Click the confirmation link we send to the new address within 24 hours.",
            "You'll also get a notice at your old address, just so you know.",
        ],
        opt=[4],
    ),
    dict(
        key="two_factor",
        topic="account",
        prompts=[
            "I'm not getting my two-factor code.",
            "The verification code never arrives by text.",
            "My 2FA code says it's invalid every time.",
            "My login code expired before I could use it, what now?",
            "I don't receive the SMS code when I sign in.",
            "I lost my phone and can't get my sign-in codes.",
        ],
        empathy=[
            "Sorry you're having trouble with your sign-in code.",
            "I understand how frustrating missing codes can be; let's fix it.",
        ],
        steps=[
            "Check that your phone has signal and isn't in airplane mode.",
            "Wait 60 seconds before selecting “Resend code”.",
            "Enter only the newest code; each new code cancels the old one.",
            "If nothing arrives, choose “Try another way” and use a backup code.",
            "Using an authenticator app? Set your phone's clock to automatic.",
        ],
        opt=[4],
    ),
    dict(
        key="suspicious_login",
        topic="account",
        prompts=[
            "I think someone else logged into my account.",
            "I got an email about a login from {city}, but it wasn't me.",
            "There's an order in my account that I didn't place!",
            "My account may have been hacked. What should I do?",
            "I received a new-device sign-in alert that wasn't me.",
        ],
        empathy=[
            "I'm sorry, that must be worrying. Let's secure your account right away.",
            "Thank you for telling us quickly; that really helps keep your account safe.",
        ],
        steps=[
            "Reset your password with “Forgot password” and choose one you don't use elsewhere.",
            "Turn on two-factor sign-in under “Account settings” > “Security”.",
            "Check “My orders” and your saved addresses for anything unfamiliar.",
            "Select “Sign out of all devices” in the security settings.",
        ],
        opt=[3],
    ),
    # --- order ---
    dict(
        key="order_status",
        topic="order",
        prompts=[
            "Where is my order?",
            "Can you check the status of order {order}?",
            "My order has been “processing” for three days. Is everything OK?",
            "When will my {product} ship?",
            "I ordered on {order_date} and still have no update.",
            "hey, any news on order {order}?",
            "I would like to know the current status of my recent order, please.",
        ],
        empathy=[
            "I understand you're keen to get your order; let's check on it.",
            "Thanks for your patience, I know waiting for a parcel isn't fun.",
            "Sorry for the lack of updates on your order.",
        ],
        steps=[
            "Open “My orders” and select {order_ref}.",
            "Check the status: Received, Being prepared, Shipped or Delivered.",
            "Once it's shipped, use the tracking link to follow the parcel.",
            "Most orders ship within two working days of being placed.",
        ],
        opt=[3],
    ),
    dict(
        key="cancel_order",
        topic="order",
        prompts=[
            "How do I cancel my order?",
            "I want to cancel order {order}.",
            "I ordered the {product} by mistake, please cancel it.",
            "Can I still cancel an order I placed this morning?",
            "please cancel my order, I found it cheaper elsewhere",
            "I'd like to cancel my recent purchase and get my money back.",
        ],
        empathy=[
            "No problem, I can help you cancel.",
            "Sorry the order didn't work out; cancelling is quick if it hasn't shipped.",
        ],
        steps=[
            "Open “My orders” and select {order_ref}.",
            "Select “Cancel order” and choose a reason.",
            "Confirm; the refund goes back to your original payment method within {refund_days} business days.",
            "If the button is missing, it has shipped: refuse the parcel or return it for free.",
        ],
        opt=[3],
    ),
    dict(
        key="change_address",
        topic="order",
        prompts=[
            "I entered the wrong delivery address.",
            "Can I change the shipping address for order {order}?",
            "I'm moving, can you send my {product} to my new address?",
            "Oops, I typed my old address at checkout. Can I fix it?",
            "How do I update the delivery address on an order?",
            "I need my parcel delivered to {street}, {city} instead.",
        ],
        empathy=[
            "Don't worry, that happens; let's get the address corrected.",
            "Thanks for catching that early, it makes the change much easier.",
        ],
        steps=[
            "Open “My orders” and select {order_ref}.",
            "If you see “Change address”, enter the new address and save.",
            "If the order has shipped, use the courier's tracking page to redirect it.",
            "Update your address book so future orders go to the right place.",
        ],
        opt=[3],
    ),
    dict(
        key="change_order",
        topic="order",
        prompts=[
            "I chose the wrong size, can I change it?",
            "Can I change the colour of the {product} I just ordered?",
            "I need to edit order {order} before it ships.",
            "Is it possible to add another item to my order?",
            "Ordered the wrong variant of the {product}, help",
        ],
        empathy=[
            "Sure, let's see if the order can still be changed.",
            "I understand, picking the wrong option is easy to do.",
        ],
        steps=[
            "Open “My orders” and select {order_ref}.",
            "If “Edit order” is shown, change the size, colour or quantity and save.",
            "If it isn't shown, packing has started; exchange {product_ref} for free once it arrives.",
            "To add new items, place a second order; we'll try to ship them together.",
        ],
        opt=[3],
    ),
    dict(
        key="no_confirmation",
        topic="order",
        prompts=[
            "I didn't get an order confirmation email.",
            "Did my order go through? I never got a confirmation.",
            "I paid but there's no confirmation email. Was the order placed?",
            "no confirmation email after checkout, should I order again?",
        ],
        empathy=[
            "I understand the worry; let's make sure your order went through.",
            "No need to worry, we'll check it together.",
        ],
        steps=[
            "Check your spam or junk folder for an email from {shop}.",
            "Sign in and look under “My orders” for a new order number.",
            "If there's no order, check your bank app: failed payments aren't charged.",
            "Please don't reorder until you've checked, to avoid two orders.",
        ],
    ),
    # --- billing ---
    dict(
        key="double_charge",
        topic="billing",
        prompts=[
            "I was charged twice for one order.",
            "My bank shows two payments of {amount} for order {order}.",
            "Why did you take my money twice?",
            "Double charge on my card from {shop}, please fix.",
            "I see a duplicate payment from {order_date}. Can you refund one?",
        ],
        empathy=[
            "I'm sorry, seeing two charges is worrying; let's sort it out.",
            "I understand your concern about the duplicate payment.",
        ],
        steps=[
            "Check whether one payment is “pending”; holds drop off within a few days.",
            "Open “My orders” to confirm only one order was placed.",
            "If there are two orders, cancel the extra one before it ships.",
            "If both charges are final, send us both dates and we'll refund within one working day.",
        ],
    ),
    dict(
        key="invoice",
        topic="billing",
        prompts=[
            "How do I get an invoice for my order?",
            "I need a VAT invoice for order {order}.",
            "Can I have an invoice with my company name on it?",
            "Where can I download a receipt for my {product}?",
            "I require an invoice for expense purposes. How can I obtain one?",
        ],
        empathy=["Of course, invoices are easy to get from your account.", "Happy to help you get that invoice."],
        steps=[
            "Sign in and open “My orders”.",
            "Select {order_ref} and choose “Invoice”.",
            "To add a company name or tax number, select “Edit billing details” and save.",
            "Select “Download PDF”.",
        ],
    ),
    dict(
        key="refund_timing",
        topic="billing",
        prompts=[
            "When will I get my refund?",
            "I cancelled order {order}; how long until I get my money back?",
            "My refund of {amount} still hasn't arrived.",
            "How long do refunds take?",
            "It's been a week and no refund. Is that normal?",
        ],
        empathy=[
            "I understand you'd like your money back soon; here's how it works.",
            "Sorry for the wait on your refund.",
        ],
        steps=[
            "Check your email for “Your refund has been issued” and the amount.",
            "Allow {refund_days} business days for your bank to show it.",
            "Look for “{shop}” on your statement rather than the order number.",
            "Gift card and store credit refunds arrive instantly.",
        ],
        opt=[3],
    ),
    dict(
        key="payment_failed",
        topic="billing",
        prompts=[
            "My payment keeps getting declined.",
            "Why was my card declined at checkout?",
            "Payment failed but I have enough money on my card.",
            "The checkout says “payment unsuccessful”. What do I do?",
            "I can't pay for my {product}, the card is rejected every time.",
        ],
        empathy=[
            "I'm sorry your payment didn't go through; that's annoying at checkout.",
            "I understand, let's get the payment working.",
        ],
        steps=[
            "Check the card number, expiry date and security code.",
            "Make sure the billing address matches the one your bank has.",
            "Approve the payment in your banking app if your bank asks.",
            "Try another card or payment method; your items stay in the basket.",
        ],
    ),
    dict(
        key="cancel_subscription",
        topic="billing",
        prompts=[
            "How do I cancel my {plan}?",
            "I want to stop my subscription before it renews.",
            "I was charged for a membership I didn't want. Can I cancel?",
            "Please cancel my {plan}, thanks.",
        ],
        empathy=["Of course, you can cancel anytime.", "No problem, I can walk you through it."],
        steps=[
            "Sign in and open “Subscriptions”.",
            "Select your {plan} and choose “Manage”.",
            "Select “Cancel subscription” and confirm.",
            "If you cancel within 14 days and haven't used any benefits, you get a full refund.",
        ],
        opt=[3],
    ),
    # --- delivery ---
    dict(
        key="late_parcel",
        topic="delivery",
        prompts=[
            "My parcel is late.",
            "My {product} was due on {due_date} and still hasn't come.",
            "Order {order} should have arrived by now. Where is it?",
            "The delivery is taking forever, what's going on?",
            "Tracking hasn't updated for four days.",
        ],
        empathy=[
            "I'm sorry your parcel is running late; I know you were looking forward to it.",
            "Sorry for the delay, that's not the experience we want for you.",
        ],
        steps=[
            "Open the tracking link in your shipping email for the latest date.",
            "Check the courier's page for delay notes or a new delivery date.",
            "If it's more than two working days late, contact us with your order number.",
            "We'll chase {courier} and send a replacement or refund if it's lost.",
        ],
        opt=[3],
    ),
    dict(
        key="missing_parcel",
        topic="delivery",
        prompts=[
            "Tracking says delivered but I didn't get anything.",
            "My parcel was marked as delivered yesterday, but it's not here.",
            "{courier} says they delivered order {order}, but I have nothing.",
            "Where is my package? It shows delivered.",
            "The app says my {product} was delivered, but there's no parcel at my door.",
        ],
        empathy=[
            "I'm sorry, that's really worrying; let's find your parcel.",
            "I understand how frustrating a missing parcel is.",
        ],
        steps=[
            "Check the tracking page for a delivery photo or a safe-place note.",
            "Look around your porch or mailbox, and ask neighbours or reception.",
            "Wait 24 hours, as couriers sometimes mark parcels early.",
            "If it's still missing, report it under “My orders”; we'll send a replacement or refund.",
        ],
    ),
    dict(
        key="damaged_parcel",
        topic="delivery",
        prompts=[
            "My parcel arrived damaged.",
            "The {product} came broken.",
            "The box was crushed and the {product} inside is cracked.",
            "I received order {order} today and the item is damaged.",
            "Item arrived smashed, what now??",
        ],
        empathy=[
            "I'm so sorry it arrived damaged; that's really disappointing.",
            "Sorry about that, you should have received it in perfect condition.",
        ],
        steps=[
            "Take a few photos of {product_ref} and the packaging.",
            "Open “My orders”, select {order_ref} and choose “Report a problem”.",
            "Upload the photos and pick a replacement or a full refund.",
            "Keep the packaging until we confirm; returns for damage are free.",
        ],
    ),
    dict(
        key="tracking_courier",
        topic="delivery",
        prompts=[
            "Which courier is delivering my order?",
            "My tracking number doesn't work on the courier's website.",
            "How do I contact the courier for order {order}?",
            "I can't find my tracking number anywhere.",
            "Tracking says “label created” for days, is it actually moving?",
        ],
        empathy=["Happy to help you track it down.", "I understand, it's reassuring to know where your parcel is."],
        steps=[
            "Open “My orders” and select {order_ref}; the courier and tracking number are shown there.",
            "Tracking can take up to 24 hours to start after dispatch.",
            "Use the link in your shipping email, which goes straight to the {courier} page.",
            "For delivery instructions, contact {courier} with your tracking number.",
        ],
        opt=[3],
    ),
    dict(
        key="missed_delivery",
        topic="delivery",
        prompts=[
            "I missed the delivery, how do I get my parcel?",
            "The courier left a card saying they tried to deliver.",
            "I wasn't home when {courier} came. What now?",
            "Can you rearrange delivery for order {order}?",
            "How do I book a redelivery?",
        ],
        empathy=["Sorry you missed it; it's easy to rearrange.", "No worries, that happens to everyone."],
        steps=[
            "Check the card or text from {courier} to see where your parcel is.",
            "Use the tracking link to book a new delivery day or choose a pickup point.",
            "Bring photo ID if you collect it; parcels are kept for 7 days.",
        ],
        opt=[2],
    ),
    # --- returns ---
    dict(
        key="start_return",
        topic="returns",
        prompts=[
            "How do I return an item?",
            "I want to return the {product}.",
            "Can I send back order {order}? It doesn't fit.",
            "What's your return policy?",
            "I'd like to return something I bought last week.",
            "how do returns work",
        ],
        empathy=[
            "Sorry it wasn't right for you; returns are free and simple.",
            "No problem, I can help you send it back.",
        ],
        steps=[
            "Open “My orders” and choose the item you want to return.",
            "Select “Return item” and pick a reason.",
            "Print the free label or save the QR code.",
            "Drop the parcel at any {courier} point within {return_days} days of delivery.",
            "Keep your drop-off receipt until the refund arrives.",
        ],
        opt=[4],
    ),
    dict(
        key="exchange",
        topic="returns",
        prompts=[
            "Can I exchange the {product} for a different size?",
            "I'd like to swap my {product} for another colour.",
            "How do exchanges work?",
            "The {product} is too small. Can I get a bigger one?",
            "I want to exchange an item from order {order}.",
        ],
        empathy=["Of course, exchanges are free.", "Sorry the size wasn't right; let's swap it."],
        steps=[
            "Open “My orders” and select {product_ref}.",
            "Choose “Exchange” and pick the new size or colour.",
            "Send it back using the free label within 7 days.",
            "We ship the replacement as soon as the courier scans your return.",
            "If the new size is out of stock, we'll refund you instead.",
        ],
        opt=[4],
    ),
    dict(
        key="return_refund",
        topic="returns",
        prompts=[
            "I returned my item two weeks ago and still no refund.",
            "When will I get the refund for my return?",
            "You received my return but haven't refunded me.",
            "My return for order {order} reached you, so where's my {amount}?",
            "How long does a return refund take?",
        ],
        empathy=[
            "I'm sorry the refund is taking a while; let's check where it is.",
            "I understand you want this settled; here's what happens.",
        ],
        steps=[
            "Use the return tracking number to confirm the parcel reached our warehouse.",
            "We check returns within 3 working days and email you when the refund is issued.",
            "Allow {refund_days} business days for your bank to show it.",
            "Still nothing? Contact us with the order number and your drop-off receipt.",
        ],
    ),
    dict(
        key="wrong_item",
        topic="returns",
        prompts=[
            "I received the wrong item.",
            "I ordered a {product} but got something else.",
            "Order {order} has the wrong product in it.",
            "There's an item missing from my parcel.",
            "You sent me the wrong colour.",
        ],
        empathy=["I'm sorry we got that wrong; let's put it right.", "Apologies for the mix-up, that's our mistake."],
        steps=[
            "Take a photo of what you received and the parcel label.",
            "Open “My orders”, select {order_ref} and choose “Report a problem”.",
            "Choose “Wrong or missing item”, then a replacement or a refund.",
            "We'll email you a free return label for the wrong item.",
        ],
    ),
    # --- general ---
    dict(
        key="opening_hours",
        topic="general",
        prompts=[
            "What are your opening hours?",
            "When is customer service available?",
            "Is live chat open on weekends?",
            "What time can I call you?",
            "When can I reach your support team?",
        ],
        empathy=["Thanks for asking, happy to help.", "Great question; here's when you can reach us."],
        lead=["Here's how to reach us:", "Here are our hours:"],
        steps=[
            "Live chat in the app or on the website: every day, {hours}.",
            "Phone: weekdays, {hours}.",
            "Email: {support_email}; we reply within 24 hours.",
            "Help Centre: guides are available any time.",
        ],
        help=[
            "Outside these hours, leave a message and we'll reply the next morning.",
            "For urgent order problems, live chat is usually the quickest option.",
        ],
    ),
    dict(
        key="contact",
        topic="general",
        prompts=[
            "How do I contact customer service?",
            "Can I speak to a real person?",
            "I'd like to make a complaint. Who do I talk to?",
            "What's your email address?",
            "How can I get in touch with {shop}?",
        ],
        empathy=[
            "Of course, we're always glad to hear from you.",
            "I'm sorry if something's gone wrong; here's how to reach the team.",
        ],
        lead=["Here's how to reach us:", "You have a few options:"],
        steps=[
            "For the quickest answer, start a live chat in the app ({hours}).",
            "Email {support_email} with your order number, if you have one.",
            "Call us on weekdays from {hours}.",
            "For complaints, choose “Make a complaint” in the Help Centre.",
        ],
        help=[
            "Whichever you choose, a real person on our team will reply.",
            "Having your order number ready helps us answer faster.",
        ],
    ),
]

ZH_INTENTS = [
    # --- account ---
    dict(
        key="login",
        topic="account",
        prompts=[
            "登录不上账号了，怎么办？",
            "我的{shop}账号一直登录失败。",
            "App登不进去，老是提示账号或密码错误。",
            "为什么我登录不了？密码明明是对的。",
            "您好，我从昨天开始就无法登录账户，请问如何处理？",
            "账号登不上去了，急！",
            "网页版一直登录失败，怎么回事？",
        ],
        empathy=[
            "很抱歉您登录遇到了问题，别着急。",
            "登录不上确实让人着急，我们一起来解决。",
            "理解您的心情，我们先排查一下原因。",
        ],
        steps=[
            [
                "核对邮箱或用户名，并确认大写锁定已关闭。",
                "检查邮箱或用户名是否正确，大写锁定是否关闭。",
            ],
            ["忘记密码时，点击登录页的“忘记密码”重置。", "不确定密码的话，用“忘记密码”重新设置。"],
            ["清除浏览器缓存，或换用App、其他浏览器。", "清理缓存，或改用App、其他浏览器。"],
            ["多次输错被锁定的话，请等待15分钟再试。", "连续输错后账号会锁定15分钟，请稍后再试。"],
        ],
        help=[
            "仍无法登录的话，可联系在线客服、查看帮助中心，或发邮件至{support_email}。",
            "如果还是不行，欢迎联系在线客服（{hours}），或查看帮助中心、发邮件给我们。",
        ],
    ),
    dict(
        key="forgot_password",
        topic="account",
        prompts=[
            "忘记密码了怎么办？",
            "怎么重置登录密码？",
            "我想不起来{shop}的密码了，能帮帮我吗？",
            "密码忘了，怎么改个新的？",
            "请问如何设置新的登录密码？",
            "原来的密码不对了，我需要重新设置。",
        ],
        empathy=["别担心，忘记密码很常见，重置只需要一两分钟。", "理解，我们马上帮您设置新密码。"],
        steps=[
            "在登录页点击“忘记密码”。",
            "输入账户绑定的邮箱或手机号。",
            ["打开收到的邮件或短信，在30分钟内点击重置链接。", "点击重置链接，链接30分钟内有效。"],
            "设置至少10位的新密码，然后重新登录。",
        ],
    ),
    dict(
        key="reset_email_missing",
        topic="account",
        prompts=[
            "重置密码的邮件一直没收到。",
            "我申请了三次找回密码，什么都没收到。",
            "找回密码的链接在哪？等了20分钟了。",
            "收不到“忘记密码”的邮件，怎么办？",
            "你们的重置邮件我一直收不到。",
        ],
        empathy=["很抱歉一直没收到邮件，给您添麻烦了。", "让您久等了，我们来找找这封邮件。"],
        steps=[
            "查看垃圾邮件、广告邮件等文件夹。",
            "确认输入的是注册时使用的邮箱。",
            "重新申请一次并等待10分钟，只有最新的链接有效。",
            "把我们的发件地址加入通讯录，避免被拦截。",
        ],
        opt=[3],
    ),
    dict(
        key="locked",
        topic="account",
        prompts=[
            "我的账号被锁定了。",
            "提示账户暂时锁定，为什么？",
            "密码输错几次后就被锁了。",
            "账号锁定要多久才能解除？",
            "多次登录失败被锁，请帮我解锁。",
            "我的{shop}账户为什么被冻结了？",
        ],
        empathy=[
            "抱歉给您带来不便，锁定是安全保护，很容易解除。",
            "理解您的着急，请放心，您的订单和信息都很安全。",
        ],
        steps=[
            "等待15分钟再试，期间重试会重新计时。",
            "不确定密码就用“忘记密码”重置。",
            "打开锁定通知邮件，确认是否为本人操作。",
            "如果不是本人操作，请立即修改密码。",
        ],
        opt=[3],
    ),
    dict(
        key="change_email",
        topic="account",
        prompts=[
            "怎么修改账户绑定的邮箱？",
            "我想换一个登录邮箱。",
            "原来的邮箱不用了，可以换成新的吗？",
            "换邮箱以后订单记录还在吗？",
            "在哪里修改个人资料里的邮箱？",
        ],
        empathy=["没问题，修改邮箱很简单，订单记录也都会保留。", "感谢您及时更新信息，我来告诉您怎么操作。"],
        steps=[
            "登录后进入“账户设置”。",
            "点击“邮箱地址”，再点“修改”。",
            "输入新邮箱和当前密码。",
            "24小时内点击新邮箱收到的验证链接。",
            "原邮箱也会收到一条变更提醒。",
        ],
        opt=[4],
    ),
    dict(
        key="two_factor",
        topic="account",
        prompts=[
            "收不到登录验证码。",
            "短信验证码一直不来。",
            "每次输入验证码都提示无效。",
            "验证码还没用就过期了，怎么办？",
            "手机丢了，收不到登录验证码。",
        ],
        empathy=["很抱歉验证码给您带来了麻烦。", "收不到验证码确实让人着急，我们来排查一下。"],
        steps=[
            "确认手机信号正常，没有开启飞行模式。",
            "等待60秒后再点击“重新发送”。",
            "只输入最新的验证码，旧的会自动失效。",
            "仍收不到时，选择“其他验证方式”，使用备用码登录。",
            "使用验证器App的话，请把手机时间设为自动。",
        ],
        opt=[4],
    ),
    dict(
        key="suspicious_login",
        topic="account",
        prompts=[
            "我怀疑有人登录了我的账号。",
            "收到一封来自{city}的登录提醒，但不是我本人。",
            "账户里有一个我没下过的订单！",
            "账号可能被盗了，怎么办？",
            "收到新设备登录通知，不是我操作的。",
        ],
        empathy=["这一定让您很担心，我们马上保护好您的账户。", "谢谢您及时告诉我们，这对保护账户安全很重要。"],
        steps=[
            "用“忘记密码”重置，新密码不要与其他网站相同。",
            "在“账户安全”中开启双重验证。",
            "检查订单和收货地址有无异常。",
            "在安全设置中选择“退出所有设备”。",
        ],
        opt=[3],
    ),
    # --- order ---
    dict(
        key="order_status",
        topic="order",
        prompts=[
            "我的订单到哪了？",
            "帮我查一下订单{order}的状态。",
            "订单显示“处理中”三天了，正常吗？",
            "我买的{product}什么时候发货？",
            "我{order_date}下的单，到现在都没有动静。",
            "订单{order}有进展了吗？",
            "您好，想了解一下我最近那笔订单的情况。",
        ],
        empathy=[
            "理解您想早点收到商品的心情，我们一起查一下。",
            "感谢您的耐心，等包裹确实让人着急。",
            "很抱歉订单迟迟没有更新。",
        ],
        steps=[
            "打开“我的订单”，选择{order_ref}。",
            "查看状态：已接单、备货中、已发货或已签收。",
            "发货后，点击物流链接查看包裹位置。",
            "大部分订单两个工作日内发货。",
        ],
        opt=[3],
    ),
    dict(
        key="cancel_order",
        topic="order",
        prompts=[
            "怎么取消订单？",
            "我要取消订单{order}。",
            "{product}下错单了，请帮我取消。",
            "今天上午下的单还能取消吗？",
            "请帮我取消订单，别家更便宜。",
            "我想取消最近的订单并退款。",
        ],
        empathy=["没问题，我来帮您取消。", "很遗憾这次订单不合适，只要还没发货，取消很快。"],
        steps=[
            "打开“我的订单”，选择{order_ref}。",
            "点击“取消订单”并选择原因。",
            "确认后，款项{refund_days}个工作日内原路退回。",
            "没有取消按钮说明已发货，可拒收或免费退货。",
        ],
        opt=[3],
    ),
    dict(
        key="change_address",
        topic="order",
        prompts=[
            "收货地址填错了。",
            "订单{order}能改收货地址吗？",
            "我搬家了，{product}能寄到新地址吗？",
            "下单时填了旧地址，还能改吗？",
            "怎么修改订单的收货地址？",
            "我想把包裹改送到{city}{street}。",
        ],
        empathy=["别担心，地址填错很常见，我们来改正。", "感谢您及早发现，越早修改越顺利。"],
        steps=[
            "打开“我的订单”，选择{order_ref}。",
            "点击“修改地址”，填写新地址并保存。",
            "已发货的话，可在物流页面申请改派。",
            "同时更新地址簿，以免下次寄错。",
        ],
        opt=[3],
    ),
    dict(
        key="change_order",
        topic="order",
        prompts=[
            "尺码选错了，能改吗？",
            "刚买的{product}能换个颜色吗？",
            "订单{order}发货前我想修改一下。",
            "能往订单里再加一件商品吗？",
            "{product}的款式拍错了，怎么办？",
        ],
        empathy=["好的，我们看看订单还能不能修改。", "理解，选错规格是常有的事。"],
        steps=[
            "打开“我的订单”，选择{order_ref}。",
            "点击“修改订单”，改好尺码、颜色或数量后保存。",
            "没有该按钮说明已在打包，收到{product_ref}后可免费换货。",
            "如需加购请另下一单，我们会尽量合并发货。",
        ],
        opt=[3],
    ),
    dict(
        key="no_confirmation",
        topic="order",
        prompts=[
            "下单后没收到确认邮件。",
            "我的订单成功了吗？一直没收到确认通知。",
            "已经付款了，但没有确认信息，订单下成功了吗？",
            "结算后没有确认邮件，要不要重新下单？",
        ],
        empathy=["理解您的担心，我们先确认一下订单是否成功。", "别着急，我们一起核实一下。"],
        steps=[
            "看看垃圾邮件里有没有{shop}的邮件。",
            "在“我的订单”中查看是否有新订单。",
            "没有订单的话，支付失败是不会扣款的。",
            "确认前请勿重复下单，以免生成两笔订单。",
        ],
    ),
    # --- billing ---
    dict(
        key="double_charge",
        topic="billing",
        prompts=[
            "同一个订单被扣了两次钱。",
            "银行显示订单{order}有两笔{amount}的扣款。",
            "为什么扣了我两次钱？",
            "{shop}重复扣款了，请处理。",
            "{order_date}有一笔重复付款，能退一笔吗？",
        ],
        empathy=["看到两笔扣款一定很着急，我们来处理。", "理解您对重复扣款的担心。"],
        steps=[
            "看看是否有一笔显示“处理中”，这类预授权会自动解除。",
            "在“我的订单”中确认只有一个订单。",
            "如有两个订单，请在发货前取消多余的。",
            "两笔都已扣款的话，请提供订单号，我们一个工作日内退款。",
        ],
    ),
    dict(
        key="invoice",
        topic="billing",
        prompts=[
            "订单发票怎么开？",
            "我需要订单{order}的发票用来报销。",
            "发票抬头能开公司名称吗？",
            "在哪里下载{product}的电子发票？",
            "请问如何开具电子发票？",
        ],
        empathy=["没问题，发票可以在账户里直接获取。", "好的，我来告诉您怎么开发票。"],
        steps=[
            "登录后打开“我的订单”。",
            "选择{order_ref}，点击“发票”。",
            "需要公司抬头时，在“开票信息”中填写名称和税号。",
            "点击“下载PDF”即可。",
        ],
    ),
    dict(
        key="refund_timing",
        topic="billing",
        prompts=[
            "退款什么时候到账？",
            "订单{order}已经取消了，钱多久退回？",
            "{amount}的退款还没收到。",
            "退款一般要多久？",
            "一周了还没退款，正常吗？",
        ],
        empathy=["理解您希望尽快收到退款，我来说明一下流程。", "让您久等了，很抱歉。"],
        steps=[
            "查收“退款已发起”的通知，核对退款金额。",
            "银行入账通常需要{refund_days}个工作日。",
            "在银行账单中查找“{shop}”字样。",
            "礼品卡和账户余额的退款即时到账。",
        ],
        opt=[3],
    ),
    dict(
        key="payment_failed",
        topic="billing",
        prompts=[
            "付款一直失败。",
            "结算时银行卡为什么被拒？",
            "卡里钱够，但支付失败了。",
            "结算页面提示“支付未成功”，怎么办？",
            "买{product}的时候一直付不了款。",
        ],
        empathy=["很抱歉支付没有成功，给您添麻烦了。", "理解，我们来看看怎么让支付顺利完成。"],
        steps=[
            "核对卡号、有效期和安全码。",
            "确认账单地址与银行预留的一致。",
            "如银行要求，请在手机银行中确认这笔交易。",
            "换一张卡或其他支付方式，购物车里的商品会保留。",
        ],
    ),
    dict(
        key="cancel_subscription",
        topic="billing",
        prompts=[
            "怎么取消{plan}？",
            "我想在续费前停掉会员。",
            "被扣了会员费，可我不想开通，能取消吗？",
            "请帮我取消{plan}，谢谢。",
        ],
        empathy=["当然可以，会员随时都能取消。", "没问题，我来一步步告诉您。"],
        steps=[
            "登录后打开“我的会员”。",
            "选择您的{plan}，点击“管理”。",
            "点击“取消自动续费”并确认。",
            "扣费后14天内且未使用权益，可全额退款。",
        ],
        opt=[3],
    ),
    # --- delivery ---
    dict(
        key="late_parcel",
        topic="delivery",
        prompts=[
            "包裹怎么还没到？",
            "{product}说好{due_date}到，现在还没到。",
            "订单{order}早该到了，现在在哪？",
            "快递太慢了，怎么回事？",
            "物流信息四天没更新了。",
        ],
        empathy=["很抱歉包裹晚到了，知道您一直在等。", "给您带来不便非常抱歉。"],
        steps=[
            "打开物流链接，查看最新预计送达时间。",
            "查看快递公司页面是否有延误说明。",
            "延误超过两个工作日，请带订单号联系我们。",
            "我们会找{courier}催件，丢件则补发或退款。",
        ],
        opt=[3],
    ),
    dict(
        key="missing_parcel",
        topic="delivery",
        prompts=[
            "物流显示已签收，但我没收到。",
            "包裹昨天显示送达了，可是我没见到。",
            "{courier}说订单{order}已经送到了，但我什么都没收到。",
            "我的快递呢？显示已签收。",
            "App上说{product}已签收，门口却没有包裹。",
        ],
        empathy=["很抱歉让您着急了，我们一起找找包裹。", "理解包裹找不到的焦急心情。"],
        steps=[
            "在物流页面查看签收照片或存放备注。",
            "看看快递柜、驿站、门卫，或问问邻居。",
            "等待24小时，快递员有时会提前标记签收。",
            "仍找不到请在“我的订单”中反馈，我们会补发或退款。",
        ],
    ),
    dict(
        key="damaged_parcel",
        topic="delivery",
        prompts=[
            "包裹送到时破损了。",
            "收到的{product}是坏的。",
            "外箱被压扁了，里面的{product}也裂了。",
            "今天收到订单{order}，商品有损坏。",
            "商品摔坏了，怎么办？",
        ],
        empathy=["真的很抱歉商品送到时有损坏。", "非常抱歉，您本该收到完好的商品。"],
        steps=[
            "拍几张{product_ref}和外包装的照片。",
            "打开“我的订单”，选择{order_ref}，点击“申请售后”。",
            "上传照片，选择换新或全额退款。",
            "处理完成前请保留包装。",
        ],
    ),
    dict(
        key="tracking_courier",
        topic="delivery",
        prompts=[
            "我的订单是哪家快递送的？",
            "物流单号在快递官网查不到。",
            "怎么联系订单{order}的快递员？",
            "我找不到物流单号。",
            "物流一直显示“已揽件”，到底有没有在运输？",
        ],
        empathy=["好的，我来帮您查清楚。", "理解，知道包裹在哪里会更安心。"],
        steps=[
            "在“我的订单”中打开{order_ref}，可看到快递公司和单号。",
            "发货后物流信息最长24小时才会更新。",
            "点击发货通知中的链接，可直达{courier}页面。",
            "也可凭单号直接联系{courier}。",
        ],
        opt=[3],
    ),
    dict(
        key="missed_delivery",
        topic="delivery",
        prompts=[
            "快递来的时候我不在家，怎么办？",
            "快递员留了条说派送失败。",
            "{courier}来的时候我不在，现在怎么取？",
            "订单{order}能重新安排派送吗？",
            "怎么预约再次派送？",
        ],
        empathy=["没关系，错过派送很常见，重新安排很方便。", "别担心，包裹不会丢。"],
        steps=[
            "查看{courier}的短信或通知，了解包裹存放在哪里。",
            "通过物流链接预约新的派送时间，或改为自提点取件。",
            "到自提点取件请带上取件码，包裹保留7天。",
        ],
        opt=[2],
    ),
    # --- returns ---
    dict(
        key="start_return",
        topic="returns",
        prompts=[
            "怎么退货？",
            "我想退掉{product}。",
            "订单{order}不合适，可以寄回吗？",
            "你们的退货政策是什么？",
            "上周买的东西想退。",
            "退货流程是怎样的？",
        ],
        empathy=["很遗憾商品不合您心意，退货免费又简单。", "没问题，我来帮您办理退货。"],
        steps=[
            "打开“我的订单”，选择要退的商品。",
            "点击“申请退货”并选择原因。",
            "打印免费退货单，或保存二维码。",
            "签收后{return_days}天内，送到任意{courier}服务点寄出。",
            "退款到账前请保留寄件凭证。",
        ],
        opt=[4],
    ),
    dict(
        key="exchange",
        topic="returns",
        prompts=[
            "{product}能换个尺码吗？",
            "我想把{product}换成别的颜色。",
            "换货怎么操作？",
            "{product}小了，能换大一号吗？",
            "订单{order}里的商品想换货。",
        ],
        empathy=["当然可以，换货是免费的。", "很抱歉尺码不合适，我们来帮您换。"],
        steps=[
            "打开“我的订单”，选择{product_ref}。",
            "点击“换货”，选择新的尺码或颜色。",
            "7天内用免费退货单寄回商品。",
            "快递揽收后，我们就会寄出新商品。",
            "如果新尺码缺货，我们会改为退款。",
        ],
        opt=[4],
    ),
    dict(
        key="return_refund",
        topic="returns",
        prompts=[
            "退货两周了还没退款。",
            "退货的钱什么时候退回？",
            "你们已经签收退货了，为什么还没退款？",
            "订单{order}的退货已经送到，{amount}什么时候退？",
            "退货退款要多久？",
        ],
        empathy=["很抱歉退款让您久等了，我们来查一下进度。", "理解您希望尽快处理完，我来说明一下。"],
        steps=[
            "用退货物流单号确认包裹已到达仓库。",
            "到仓后3个工作日内验货并发起退款。",
            "银行入账需要{refund_days}个工作日。",
            "仍未到账请带上寄件凭证联系我们。",
        ],
    ),
    dict(
        key="wrong_item",
        topic="returns",
        prompts=[
            "收到的商品发错了。",
            "我买的是{product}，收到的却是别的东西。",
            "订单{order}里的商品不对。",
            "包裹里少了一件商品。",
            "颜色发错了。",
        ],
        empathy=["很抱歉发错了商品，我们马上为您处理。", "非常抱歉出现了差错，这是我们的失误。"],
        steps=[
            "拍下收到的商品和包裹面单。",
            "打开“我的订单”，选择{order_ref}，点击“申请售后”。",
            "选择“错发/漏发”，再选择补发或退款。",
            "我们会发送免费退货单，寄回错发的商品。",
        ],
    ),
    # --- general ---
    dict(
        key="opening_hours",
        topic="general",
        prompts=[
            "你们客服几点上班？",
            "客服什么时候在线？",
            "周末有在线客服吗？",
            "几点可以打客服电话？",
            "什么时候能联系到你们？",
        ],
        empathy=["感谢您的咨询，很高兴为您解答。", "好的，下面是我们的服务时间。"],
        lead=["联系方式如下：", "我们的服务时间是："],
        steps=[
            "在线客服（App和网站）：每天{hours}。",
            "客服热线：工作日{hours}。",
            "邮箱：{support_email}，24小时内回复。",
            "帮助中心：随时可以查看各类指南。",
        ],
        help=["非服务时间也可以留言，我们会在次日上午回复您。", "遇到紧急的订单问题，建议优先使用在线客服。"],
    ),
    dict(
        key="contact",
        topic="general",
        prompts=[
            "怎么联系客服？",
            "能转人工客服吗？",
            "我要投诉，找谁？",
            "你们的客服邮箱是多少？",
            "怎样联系{shop}？",
        ],
        empathy=["当然可以，我们随时欢迎您的反馈。", "如果给您带来了不愉快，非常抱歉，下面是联系方式。"],
        lead=["联系方式如下：", "您可以选择以下方式："],
        steps=[
            "最快的方式是在App里发起在线客服（{hours}）。",
            "发送邮件至{support_email}，附上订单号（如有）。",
            "工作日{hours}可拨打客服热线。",
            "投诉请在帮助中心选择“我要投诉”。",
        ],
        help=["无论哪种方式，都会有客服专员为您处理。", "提前准备好订单号，我们能更快为您解答。"],
    ),
]

# Follow-up questions that continue a conversation naturally: intent -> [(next intent, phrasings)].
EN_FOLLOWUPS = dict(
    login=[
        (
            "reset_email_missing",
            [
                "I tried “Forgot password”, but the email never came.",
                "I clicked “Forgot password” and nothing arrived.",
            ],
        ),
        ("locked", ["Now it says my account is locked.", "Hmm, now I'm told the account is temporarily locked."]),
    ],
    forgot_password=[
        (
            "reset_email_missing",
            ["I did that, but no email arrived.", "I requested it, but the reset email isn't here."],
        )
    ],
    order_status=[
        (
            "late_parcel",
            ["It says shipped, but it's now two days late.", "Tracking shows it's on the way but it's overdue."],
        )
    ],
    cancel_order=[
        ("refund_timing", ["Done. When will I get my money back?", "OK, cancelled. How long does the refund take?"])
    ],
    damaged_parcel=[("refund_timing", ["If I choose a refund, how long will it take?"])],
    start_return=[("return_refund", ["And when will I get the refund?", "How long until the refund comes through?"])],
    exchange=[("start_return", ["Actually, can I just return it instead?"])],
    late_parcel=[
        (
            "missing_parcel",
            [
                "Now tracking says delivered, but it isn't here.",
                "It just changed to delivered, but there's nothing at my door.",
            ],
        )
    ],
    payment_failed=[("double_charge", ["It finally worked, but now I see two charges!"])],
    double_charge=[("refund_timing", ["How long will that refund take?"])],
    change_address=[("order_status", ["Thanks. When will it ship?"])],
    missing_parcel=[("contact", ["Can I talk to someone directly about this?"])],
)

ZH_FOLLOWUPS = dict(
    login=[
        ("reset_email_missing", ["我点了“忘记密码”，但一直没收到邮件。", "点了忘记密码，什么都没收到。"]),
        ("locked", ["现在提示账号被锁定了。", "现在又显示账户暂时锁定了。"]),
    ],
    forgot_password=[("reset_email_missing", ["照做了，但没收到邮件。", "申请了，可是重置邮件一直没来。"])],
    order_status=[("late_parcel", ["显示已发货，但已经晚了两天。", "物流显示在路上，可是已经超时了。"])],
    cancel_order=[("refund_timing", ["取消好了，钱什么时候退回来？", "已经取消了，退款要多久？"])],
    damaged_parcel=[("refund_timing", ["如果选退款，要多久到账？"])],
    start_return=[("return_refund", ["那退款什么时候到账？", "寄回以后多久能退款？"])],
    exchange=[("start_return", ["算了，我还是直接退货吧，怎么弄？"])],
    late_parcel=[("missing_parcel", ["现在显示已签收了，可我没收到。", "物流刚变成已签收，但门口什么都没有。"])],
    payment_failed=[("double_charge", ["终于付成功了，但现在看到扣了两次钱！"])],
    double_charge=[("refund_timing", ["那多扣的钱多久能退回？"])],
    change_address=[("order_status", ["好的，那什么时候发货？"])],
    missing_parcel=[("contact", ["这个问题能直接找人工处理吗？"])],
)

PACKS = dict(
    en=dict(lang="en", slots=EN_SLOTS, parts=EN_PARTS, intents=EN_INTENTS, followups=EN_FOLLOWUPS, sp=" "),
    zh=dict(lang="zh", slots=ZH_SLOTS, parts=ZH_PARTS, intents=ZH_INTENTS, followups=ZH_FOLLOWUPS, sp=""),
)

# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _date(lang: str, day: dt.date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}" if lang == "en" else f"{day.month}月{day.day}日"


def make_ctx(rng: random.Random, pack: dict) -> dict:
    """One consistent set of slot values for a row (or a whole conversation)."""
    lang, slots = pack["lang"], pack["slots"]
    ctx = {
        key: rng.choice(slots[key])
        for key in ("shop", "product", "courier", "hours", "refund_days", "plan", "city", "street")
    }
    order_date = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
    ctx["order_date"] = _date(lang, order_date)
    ctx["due_date"] = _date(lang, order_date + dt.timedelta(days=rng.randint(3, 6)))
    ctx["order"] = rng.choice("ABCDEHKMNPRSTW") + str(rng.randint(1_000_000, 9_999_999))
    ctx["return_days"] = rng.choice([14, 30, 30, 60])
    value = rng.randint(8, 320) if lang == "en" else rng.randint(19, 2999)
    if lang == "en":
        ctx["amount"] = rng.choice(["$", "£", "€"]) + f"{value + rng.choice([0.0, 0.99, 0.5, 0.95]):,.2f}"
        ctx["support_email"] = "support@" + "".join(c for c in ctx["shop"].lower() if c.isalnum()) + ".example"
    else:
        ctx["amount"] = rng.choice([f"¥{value:.2f}", f"{value}元"])
        ctx["support_email"] = f"kefu@{ZH_DOMAINS[ctx['shop']]}.example"
    return ctx


def _refs(lang: str, ctx: dict, mentioned: set[str]) -> dict:
    """How the answer names the order and product: by value when the customer mentioned it, generically otherwise."""
    if lang == "en":
        order_ref = f"order {ctx['order']}" if "order" in mentioned else "the order"
        product_ref = f"the {ctx['product']}" if "product" in mentioned else "the item"
    else:
        order_ref = f"订单{ctx['order']}" if "order" in mentioned else "对应订单"
        product_ref = ctx["product"] if "product" in mentioned else "商品"
    return dict(order_ref=order_ref, product_ref=product_ref)


def answer_length(lang: str, text: str) -> int:
    return len(text.split()) if lang == "en" else len(text)


def render_answer(rng: random.Random, pack: dict, intent: dict, ctx: dict, mentioned: set[str], greet: bool) -> str:
    """Acknowledgement, numbered steps, where to get more help, polite close; within the length limits."""
    lang, parts, sp = pack["lang"], pack["parts"], pack["sp"]
    fill = dict(ctx, topic_label=TOPIC_LABELS[lang][intent["topic"]], **_refs(lang, ctx, mentioned))
    low, high = LIMITS[lang]
    for _ in range(200):
        steps = []
        for index, step in enumerate(intent["steps"]):
            if index in intent.get("opt", ()) and rng.random() < 0.4:
                continue
            steps.append(rng.choice(step) if isinstance(step, list) else step)
        opening = (rng.choice(parts["greet"]) if greet and rng.random() < 0.3 else "") + rng.choice(intent["empathy"])
        lead = rng.choice(intent.get("lead") or parts["leads"])
        numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
        more = rng.choice(intent.get("help") or parts["help"])
        text = f"{opening}{sp}{lead}\n{numbered}\n{more}{sp}{rng.choice(parts['closing'])}".format_map(fill)
        if low <= answer_length(lang, text) <= high:
            return text
    raise RuntimeError(f"{lang}/{intent['key']}: no answer within {low}-{high}; shorten its templates")


def render_prompt(rng: random.Random, pack: dict, template: str, ctx: dict, decorate: bool = True) -> str:
    text = template.format_map(ctx)
    if decorate:
        parts = pack["parts"]
        text = rng.choice(parts["prefix"]) + text + rng.choice(parts["suffix"])
    return text


class PromptCycler:
    """Hands out each intent's paraphrases in a shuffled cycle, so every wording gets used."""

    def __init__(self, rng: random.Random):
        self.rng, self.queues = rng, {}

    def next(self, intent: dict) -> str:
        queue = self.queues.get(intent["key"])
        if not queue:
            queue = list(intent["prompts"])
            self.rng.shuffle(queue)
            self.queues[intent["key"]] = queue
        return queue.pop()


def single_rows(rng: random.Random, pack: dict, seen: set[str]) -> list[dict]:
    lang, intents = pack["lang"], pack["intents"]
    login = next(intent for intent in intents if intent["key"] == "login")
    cycler = PromptCycler(rng)
    rows: list[dict] = []
    plan = [None] * ANCHOR_REPEATS + [intents[i % len(intents)] for i in range(SINGLE_PER_LANG - ANCHOR_REPEATS)]
    for intent in plan:
        for _ in range(100):
            ctx = make_ctx(rng, pack)
            if intent is None:  # the anchor prompt, verbatim
                prompt, answer = ANCHORS[lang], render_answer(rng, pack, login, ctx, set(), greet=True)
            else:
                template = cycler.next(intent)
                prompt = render_prompt(rng, pack, template, ctx)
                answer = render_answer(rng, pack, intent, ctx, _fields(template), greet=True)
            row = dict(prompt=prompt, answer=answer)
            key = json.dumps(row, ensure_ascii=False, sort_keys=True)
            if key not in seen:
                seen.add(key)
                rows.append(row)
                break
        else:
            raise RuntimeError(f"{lang}: too many duplicate rows; add more templates")
    return rows


def conversation(rng: random.Random, pack: dict, first: dict, cycler: PromptCycler) -> list[dict]:
    lang, parts, intents = pack["lang"], pack["parts"], pack["intents"]
    by_key = {intent["key"]: intent for intent in intents}
    ctx = make_ctx(rng, pack)
    messages = []
    if rng.random() < 0.5:
        messages.append(dict(role="system", content=rng.choice(parts["system"]).format_map(ctx)))
    mentioned: set[str] = set()
    used = {first["key"]}

    # Turn 1: the opening question (for the login intent, often the anchor prompt verbatim).
    if first["key"] == "login" and rng.random() < 0.5:
        prompt = ANCHORS[lang]
    else:
        template = cycler.next(first)
        mentioned |= _fields(template)
        prompt = render_prompt(rng, pack, template, ctx)
    messages.append(dict(role="user", content=prompt))
    messages.append(dict(role="assistant", content=render_answer(rng, pack, first, ctx, mentioned, greet=True)))

    current = first
    for turn in range(rng.choice([1, 2])):  # 2 or 3 user turns in all
        follow = pack["followups"].get(current["key"], [])
        if turn == 1 and rng.random() < 0.5:
            messages.append(dict(role="user", content=rng.choice(parts["thanks"])))
            messages.append(dict(role="assistant", content=rng.choice(parts["thanks_answers"]).format_map(ctx)))
            break
        if follow and rng.random() < 0.7:
            key, phrasings = rng.choice(follow)
            current = by_key[key]
            prompt = rng.choice(phrasings)
        else:
            current = rng.choice(
                [intent for intent in intents if intent["key"] not in used and intent["topic"] != "general"]
            )
            template = cycler.next(current)
            mentioned |= _fields(template)
            prompt = rng.choice(parts["connect"]) + template.format_map(ctx)
        used.add(current["key"])
        messages.append(dict(role="user", content=prompt))
        messages.append(dict(role="assistant", content=render_answer(rng, pack, current, ctx, mentioned, greet=False)))
    return messages


def multi_rows(rng: random.Random, pack: dict, seen: set[str]) -> list[dict]:
    intents = [intent for intent in pack["intents"] if intent["topic"] != "general"]
    followed = [intent for intent in intents if intent["key"] in pack["followups"]]
    cycler = PromptCycler(rng)
    rows: list[dict] = []
    # Intents with natural follow-ups open half the conversations; the rest cycle through all topics.
    order = [followed[i % len(followed)] if i % 2 == 0 else intents[i % len(intents)] for i in range(MULTI_PER_LANG)]
    for first in order:
        for _ in range(100):
            row = dict(messages=conversation(rng, pack, first, cycler))
            key = json.dumps(row, ensure_ascii=False, sort_keys=True)
            if key not in seen:
                seen.add(key)
                rows.append(row)
                break
        else:
            raise RuntimeError(f"{pack['lang']}: too many duplicate conversations")
    return rows


def generate(seed: int = DEFAULT_SEED) -> list[dict]:
    """Return the shuffled SFT rows: single-turn prompt/answer rows and multi-turn message rows, half English, half Chinese."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict] = []
    for lang in ("en", "zh"):
        rows += single_rows(rng, PACKS[lang], seen)
        rows += multi_rows(rng, PACKS[lang], seen)
    rng.shuffle(rows)
    return rows


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT, DEFAULT_SEED)
    rows = generate(args.seed)
    payload = write_jsonl_gz(rows, args.out)
    single = sum("prompt" in row for row in rows)
    print(
        f"wrote {len(rows)} rows ({single} single-turn, {len(rows) - single} multi-turn), "
        f"{len(payload):,} bytes uncompressed, {args.out.stat().st_size:,} bytes compressed -> {args.out}"
    )


if __name__ == "__main__":
    main()
