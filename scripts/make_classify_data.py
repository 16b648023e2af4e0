"""Generate the embedded demo classification/regression data (customer messages, English and Chinese).

Usage:
    python scripts/make_classify_data.py [--out PATH] [--seed N]

The output is a gzipped JSONL file of labelled customer messages to an online shop, used to demo transfer learning
(a new classification or regression head on a pretrained body). Each row looks like::

    {"text": "<customer message>", "label": "<intent>", "score": 3.5, "lang": "en"}

``label`` is one of six intents: account_access, order_status, refund_return, delivery_problem, payment_billing,
product_question (100 rows each, half English, half Chinese, 600 rows in all). ``score`` is the customer's
satisfaction as shown by the tone of the message, 1.0-5.0 in steps of 0.5: every message is an intent part plus a
tone part (angry 1, frustrated 2, neutral 3, pleased 4, delighted 5) with at most +-0.5 of seeded noise. ``lang`` is
"en" or "zh". The shops, products and couriers are the imaginary ones of the pretraining corpus
(``scripts/make_corpus.py``); all templates were written for this project. The same seed always produces a
byte-identical file.
"""

# Template sentences are kept one per line so they are easy to read and edit.
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import random
import string
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import EN_SLOTS, MONTHS, ZH_SLOTS, parse_args, write_jsonl_gz  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "alignkit" / "assets" / "classify.jsonl.gz"
DEFAULT_SEED = 20240613
PER_INTENT_LANG = 50  # rows per intent and language
LABELS = ("account_access", "order_status", "refund_return", "delivery_problem", "payment_billing", "product_question")
TONES = (1, 2, 3, 4, 5)  # angry, frustrated, neutral, pleased, delighted; the base satisfaction score
NOISE = (-0.5, 0.0, 0.0, 0.0, 0.5)
QUESTION_ONLY = {"product_question"}  # intents without a problem to fix: no "fix it now" tone phrases
SAME_FACT = {"days": "order_date"}  # slots that state the same fact; a detail sentence never repeats a fact

# ---------------------------------------------------------------------------
# English: intent parts. "bodies" state the request (some indirectly); "extras" add an optional detail sentence.
# ---------------------------------------------------------------------------

EN_INTENTS = dict(
    account_access=dict(
        bodies=[
            "I can't log in to my account.",
            "My password isn't being accepted, even though I'm sure it's right.",
            "I forgot my password and the reset email never shows up.",
            "The reset link you sent says it has expired. How do I get a new one?",
            "I'm not receiving the verification code by text when I try to sign in.",
            "The six-digit code goes to my old phone number, which I don't have any more.",
            "It says my account is temporarily locked. How long do I have to wait?",
            "After I type my email and password, the app just sends me back to the start screen.",
            "I think someone else got into my account. The email address on it was changed and it wasn't me.",
            "How do I change the email address I use to sign in?",
            "I signed up with my work email and I no longer have access to that inbox.",
            "The website keeps telling me my details don't match, but they're the same ones I've always used.",
            "I'm stuck on the sign-in page. Every attempt ends with “something went wrong”.",
            "can't get into my account, help",
            "I got a new phone and now the {shop} app won't let me in.",
            "I changed my password yesterday and now neither the old nor the new one works.",
            "I want to look at my order history, but I'm locked out.",
            "I tried to check on my refund, but the site keeps saying my password is wrong.",
            "My account seems to have been frozen and I can't open anything.",
            "Can you unlock my account? I typed the wrong password a few times.",
            "I never got the email to activate my new account, so I can't sign in.",
            "Scanning the QR code to sign in just spins and then fails.",
        ],
        extras=[
            "I've already tried resetting it twice.",
            "I've cleared my browser cache and tried the app as well.",
            "It worked fine last week.",
            "I've checked my spam folder too.",
            "I'm using the app on my phone.",
            "I've had this account for years.",
            "There's an open order ({order}) on that account, so I really need to get in.",
        ],
    ),
    order_status=dict(
        bodies=[
            "Where is my order {order}?",
            "Can you tell me when order {order} will ship?",
            "Has my {product} left your warehouse yet?",
            "I placed an order on {order_date} and it still says “processing”. Is that normal?",
            "When can I expect the {product} I ordered?",
            "I never got a confirmation email. Did my order actually go through?",
            "Could you give me the tracking number for order {order}?",
            "What does “being prepared” mean on my order page? It's been like that for two days.",
            "Is there an estimated arrival date for my {product}?",
            "Any update on {order}?",
            "I ordered a {product} and two other things. Will they come together or separately?",
            "I'd like to know if my order is on its way yet.",
            "The order page only shows “received”. Has anyone started packing it?",
            "Just checking whether order {order} has been dispatched.",
            "My payment went through on {order_date}, but I haven't heard anything since. What stage is my order at?",
            "I need the {product} by {due_date} for a birthday. Will it get here in time?",
            "how's my order doing? the number is {order}",
            "Has {courier} collected my parcel from you yet?",
            "One item in my order shows as shipped and the other is still being prepared. When will the second one go out?",
            "I ordered the {product} {days} days ago. Is it still being packed?",
            "Can you check the status of my order? I want to plan when to be at home.",
        ],
        extras=[
            "The order number is {order}.",
            "I ordered it on {order_date}.",
            "I chose standard delivery.",
            "No rush, I'm just curious.",
            "It's a gift, so I'd like to know roughly when it arrives.",
            "The app hasn't shown any update yet.",
        ],
    ),
    refund_return=dict(
        bodies=[
            "I'd like to return the {product} I bought.",
            "How do I send back the {product}? It's the wrong size.",
            "I returned the {product} on {order_date} and still haven't received my refund.",
            "Can I exchange the {product} for a different colour?",
            "The {product} isn't what I expected. Can I get my money back?",
            "I changed my mind about the {product}. It's still unopened in the box.",
            "Where do I find the return label for order {order}?",
            "I dropped the parcel off at the post office two weeks ago and nothing has come back to my account yet.",
            "How long does it take for the money to show up after you receive a return?",
            "The {product} stopped working after a week. I'd like to send it back.",
            "Is it too late to return something I bought on {order_date}?",
            "You refunded me {amount}, but I paid more than that for the {product}.",
            "Can I swap the {product} for a bigger size instead of getting a refund?",
            "want to send the {product} back, what's the process",
            "Do I have to pay the postage when I return something?",
            "The returns page won't let me select order {order}.",
            "The {product} just isn't right for me, so I'd like to send it back.",
            "Your warehouse confirmed they got my parcel back, so when do I see the {amount}?",
            "Could I get store credit instead of money back for the {product}?",
            "The colour of the {product} is nothing like the photos. I don't want to keep it.",
        ],
        extras=[
            "The order number is {order}.",
            "It's unused and still has the tags.",
            "I still have the original packaging.",
            "I bought it on {order_date}.",
            "I paid {amount} for it.",
            "I used {courier} to send it back.",
            "I'd prefer the money back on my card.",
        ],
    ),
    delivery_problem=dict(
        bodies=[
            "The tracking says my parcel was delivered, but my doorstep is empty.",
            "My parcel was supposed to arrive on {due_date} and there's still no sign of it.",
            "{courier} left a card saying nobody was home, but I was in all day.",
            "The tracking for {tracking} hasn't moved in {days} days.",
            "The box arrived crushed and soaking wet.",
            "My package was delivered to the wrong address.",
            "The driver left my parcel outside in the rain.",
            "The courier marked it as a failed delivery without even ringing the bell.",
            "A neighbour two streets away ended up with my {product}.",
            "The parcel came, but the {product} wasn't inside, just the packing paper.",
            "{courier} says my address doesn't exist, but I've lived at {street} for years.",
            "My parcel seems to be on its way back to your warehouse and I never asked for that.",
            "I paid for express delivery, but it took {days} days.",
            "According to the tracking, the parcel has been sitting at the {city} depot all week.",
            "the app says delivered, I've got nothing",
            "Someone signed for my parcel, and it wasn't anyone in my house.",
            "The courier dropped the {product} at a pickup point I've never heard of, miles away.",
            "I waited in all day for the {product} and nobody turned up.",
            "The tracking shows it was handed to {courier} on {order_date}, and then nothing at all.",
            "The parcel locker says my package is inside, but I never got the code to open it.",
        ],
        extras=[
            "The tracking number is {tracking}.",
            "I live at {street}, {city}.",
            "I've already asked my neighbours.",
            "I didn't leave any safe place instructions.",
            "I've been at home all week.",
            "{courier} told me to contact you.",
            "It's order {order}.",
        ],
    ),
    payment_billing=dict(
        bodies=[
            "I was charged twice for order {order}.",
            "There's a payment of {amount} from {shop} on my statement that I don't recognise.",
            "My card keeps getting declined at checkout, but it works everywhere else.",
            "The discount code didn't come off my total.",
            "I cancelled my {plan}, but I was still charged for it this month.",
            "Can I get an invoice with my company name for order {order}?",
            "How do I remove the old card ending in {card_tail} from my account?",
            "The price jumped between my basket and the last page of checkout.",
            "Why is there a pending charge of {amount} when I haven't ordered anything?",
            "I paid with a gift card, but the balance wasn't reduced by the right amount.",
            "Can I split a payment between a gift card and my bank card?",
            "My bank shows two identical lines for the same purchase.",
            "The site said shipping was free, but {amount} was added at the very end.",
            "The money left my account, but the website says the payment failed.",
            "Can I pay by bank transfer?",
            "my card got charged but I don't see any order, what happened",
            "I need a VAT receipt for my accountant.",
            "The total on my receipt doesn't match what my bank took.",
            "I was billed {amount} for a {plan} renewal and I don't remember agreeing to that.",
            "Your checkout won't accept the billing address for my card.",
            "The option to pay in instalments has disappeared from checkout.",
        ],
        extras=[
            "The card ends in {card_tail}.",
            "It happened on {order_date}.",
            "The amount was {amount}.",
            "I've already checked with my bank.",
            "It's the same card I always use.",
        ],
    ),
    product_question=dict(
        bodies=[
            "Is the {product} available in other colours?",
            "What is the {product} made of?",
            "What are the dimensions of the {product}?",
            "Does the {product} come with a warranty?",
            "When will the {product} be back in stock?",
            "Would the {product} make a good gift for a ten-year-old?",
            "What's the difference between the {product} and the cheaper one next to it?",
            "How do I clean the {product}?",
            "Is the {product} available in a larger size?",
            "What comes in the box with the {product}?",
            "How heavy is the {product}? I'd have to carry it up three flights of stairs.",
            "Before I buy, does the {product} need any assembly?",
            "Would the {product} be too big for a small flat?",
            "Is the {product} the new version or last year's model?",
            "Can you tell me where the {product} is made?",
            "I'm thinking about the {product}. Is it easy to use for a beginner?",
            "is the {product} waterproof at all?",
            "If I order the {product} now, will it be the same colour as in the picture?",
            "My friend bought the {product} from you last year. Is the one you sell now any different?",
            "The product page doesn't say how long the {product} should last. Could you tell me?",
        ],
        extras=[
            "I'm deciding between a few options.",
            "The product page doesn't really say.",
            "It's for my parents.",
            "I'd like to order today if possible.",
            "I couldn't find it in the description.",
            "I don't have much space at home.",
        ],
    ),
)

# ---------------------------------------------------------------------------
# English: tone parts (the score), greetings and sign-offs
# ---------------------------------------------------------------------------

EN_TONES = {
    1: dict(
        open=[
            "This is absolutely ridiculous.",
            "I'm furious right now.",
            "Unbelievable.",
            "I am so angry.",
            "Honestly, this is the worst service I've ever had.",
            "I've had it with {shop}.",
            "Third time I'm writing about this!",
            "What a joke.",
            "I've asked this twice already and nobody has replied!",
        ],
        close=[
            "This is a disgrace.",
            "I'll be leaving a one-star review.",
            "Nobody answered my last two messages, which is outrageous.",
            "I'm seriously thinking of reporting you.",
            "Never again.",
            "Answer me this time!",
        ],
        fix_close=["Fix this today or I'm done with {shop} for good.", "I want this sorted right now."],
    ),
    2: dict(
        open=[
            "I'm getting a bit frustrated.",
            "I'm disappointed, to be honest.",
            "This is getting annoying.",
            "Not happy about this.",
            "I've been waiting a while now.",
            "Sorry, but I'm starting to lose patience.",
        ],
        close=[
            "I'd appreciate a faster reply this time.",
            "It's really not what I expected from {shop}.",
            "Please don't make me chase this again.",
            "A bit disappointing, honestly.",
            "I'd hoped this would be easier to find out.",
        ],
        fix_close=["Please sort it out soon, it's been a hassle.", "Hoping for a quick fix this time."],
    ),
    3: dict(
        open=["Quick question.", "I have a question.", "", "", ""],
        close=["Please let me know.", "Thanks.", "Could you check?", "Let me know what to do.", "", ""],
    ),
    4: dict(
        open=[
            "Hope you're having a good day!",
            "I usually have a great experience with you.",
            "I really like shopping at {shop}.",
        ],
        close=[
            "Thanks a lot in advance!",
            "Appreciate your help!",
            "You've always been helpful, so thanks!",
            "Thank you, I appreciate it.",
            "Many thanks!",
        ],
    ),
    5: dict(
        open=[
            "First of all, I love {shop}!",
            "You're honestly my favourite shop.",
            "Your service has always been brilliant!",
            "I'm a very happy customer!",
        ],
        close=[
            "Thank you so much, you're all wonderful!",
            "Keep up the amazing work!",
            "Honestly the best customer service I've ever had, thank you!",
            "Huge thanks, you always make it easy!",
            "Love you guys, thanks so much!",
        ],
    ),
}

EN_GREETINGS = ["Hi!", "Hello.", "Hi there.", "Good morning.", "Hello {shop} team.", "Hey."]
EN_SIGNOFFS = ["Regards, {name}", "Cheers, {name}", "Best, {name}", "- {name}"]

# ---------------------------------------------------------------------------
# Chinese: intent parts
# ---------------------------------------------------------------------------

ZH_INTENTS = dict(
    account_access=dict(
        bodies=[
            "我登录不了账号。",
            "密码明明是对的，但一直提示密码错误。",
            "忘记密码了，重置邮件一直收不到。",
            "你们发的重置链接打开说已经过期了，怎么重新获取？",
            "登录的时候收不到短信验证码。",
            "验证码一直发到我以前的手机号上，那个号已经不用了。",
            "提示账号被临时锁定，要等多久才能解锁？",
            "输完账号密码，App又跳回首页，怎么都进不去。",
            "我的绑定邮箱被人改了，不是我本人操作的，是不是被盗号了？",
            "怎么修改登录用的邮箱？",
            "注册时用的是公司邮箱，现在离职了收不到邮件，怎么办？",
            "网页一直提示“账号或密码不匹配”，可我一直都是用这个登录的。",
            "进不去账号，求助",
            "换了新手机以后就登不上{shop}了。",
            "昨天刚改了密码，结果新密码旧密码都不对。",
            "想看一下历史订单，但账号被锁了。",
            "想登录看看退款进度，结果一直说密码错误。",
            "我的账号突然被冻结了，什么都看不了。",
            "输错几次密码之后账号就锁了，能帮我解开吗？",
            "新注册的账号一直没收到激活邮件，没法登录。",
            "扫码登录一直转圈，最后显示失败。",
        ],
        extras=[
            "已经重置过两次了。",
            "清过缓存，也换过浏览器。",
            "上周还能正常登录。",
            "垃圾邮件里也找过了。",
            "我用的是手机App。",
            "这个账号我用了好几年了。",
            "账号里还有一个没收货的订单{order}，挺着急的。",
        ],
    ),
    order_status=dict(
        bodies=[
            "我的订单{order}到哪了？",
            "订单{order}什么时候发货？",
            "我买的{product}发出来了吗？",
            "{order_date}下的单，到现在还显示“处理中”，正常吗？",
            "{product}大概什么时候能到？",
            "没收到下单确认邮件，订单到底成功了没有？",
            "能告诉我订单{order}的快递单号吗？",
            "订单页面一直显示“备货中”，已经两天了，是什么意思？",
            "我的{product}有预计送达时间吗？",
            "{order}有进展吗？",
            "我一次买了{product}和另外两样东西，是一起发还是分开发？",
            "想问一下我的订单出库了没有。",
            "订单状态只显示“已接单”，开始打包了吗？",
            "{order_date}就付款成功了，之后一直没有消息，订单现在到哪一步了？",
            "{due_date}之前要用这个{product}，能赶得上吗？",
            "帮我查下订单呗，单号{order}",
            "{courier}已经从你们仓库揽收了吗？",
            "订单里一件显示已发货，另一件还在备货，第二件什么时候发？",
            "{days}天前买的{product}，还在打包吗？",
            "麻烦看下我的订单状态，我想安排一下时间在家等。",
        ],
        extras=[
            "订单号是{order}。",
            "我是{order_date}下的单。",
            "选的是普通配送。",
            "不着急，就是想了解一下。",
            "是送人的礼物，想知道大概哪天到。",
            "App上一直没更新。",
        ],
    ),
    refund_return=dict(
        bodies=[
            "我想退掉买的{product}。",
            "{product}尺码不合适，怎么退回去？",
            "{order_date}就把{product}寄回去了，退款到现在还没到账。",
            "{product}能换个颜色吗？",
            "{product}跟我想的不一样，能退钱吗？",
            "{product}不想要了，还没拆封。",
            "订单{order}的退货面单在哪里下载？",
            "两周前就在快递点把包裹寄回给你们了，钱到现在还没回来。",
            "你们收到退货以后，多久能退款？",
            "{product}用了一周就坏了，想退货。",
            "{order_date}买的东西，现在还能退吗？",
            "只退了我{amount}，可我买{product}付的比这多。",
            "{product}能换大一号的吗？不要退款。",
            "退货要自己出运费吗？",
            "退货页面里选不了订单{order}。",
            "{product}实物颜色和图片差太多了，不想留着。",
            "仓库说已经收到我寄回的包裹了，那{amount}什么时候给我？",
            "{product}退货能退到账户余额吗？不用退回银行卡。",
            "想退{product}，流程是怎样的",
            "{product}用着不太合适，想寄回去。",
        ],
        extras=[
            "订单号是{order}。",
            "吊牌都还在，没用过。",
            "原包装也都留着。",
            "是{order_date}买的。",
            "当时付了{amount}。",
            "我是用{courier}寄回去的。",
            "钱最好原路退回。",
        ],
    ),
    delivery_problem=dict(
        bodies=[
            "物流显示已签收，可我家门口什么都没有。",
            "本来说{due_date}送到，到现在都没影。",
            "{courier}说家里没人，派送失败，可我一整天都在家。",
            "运单{tracking}的物流信息{days}天没更新了。",
            "箱子送到的时候都压扁了，还湿透了。",
            "包裹被送到别的地址去了。",
            "快递员把包裹直接扔在门外淋雨。",
            "快递员门铃都没按，就标记成派送失败。",
            "我的{product}被送到隔壁小区去了。",
            "包裹收到了，可里面没有{product}，只有填充纸。",
            "{courier}说我的地址不存在，可我在{street}住了好几年了。",
            "我没申请退回，包裹怎么显示在退回你们仓库的路上？",
            "买的是加急配送，结果走了{days}天。",
            "物流显示包裹一直卡在{city}转运中心。",
            "App显示签收了，我啥也没收到",
            "有人替我签收了包裹，可家里没人签过。",
            "快递把{product}放到了一个很远的自提点，我根本没选过那里。",
            "在家等了一整天{product}，结果根本没人来送。",
            "物流显示{order_date}交给了{courier}，之后就再也没有动静了。",
            "包裹显示已经放进快递柜了，可我一直没收到取件码。",
        ],
        extras=[
            "运单号是{tracking}。",
            "我的地址是{city}{street}。",
            "邻居那边也都问过了。",
            "订单里没有备注放门口。",
            "这周我一直在家。",
            "{courier}让我来找你们。",
            "订单号{order}。",
        ],
    ),
    payment_billing=dict(
        bodies=[
            "订单{order}被扣了两次钱。",
            "账单上有一笔{shop}的{amount}，我不记得买过什么。",
            "结账的时候银行卡一直被拒，别的地方都能用。",
            "优惠券没有抵扣，付的还是原价。",
            "我已经取消了{plan}，这个月还是被扣费了。",
            "订单{order}能开带公司抬头的发票吗？",
            "怎么删除账户里尾号{card_tail}的旧银行卡？",
            "购物车里的价格和最后结算页的价格不一样，多了一截。",
            "我最近没下单，为什么有一笔{amount}的待处理扣款？",
            "用礼品卡付的款，但余额扣得不对。",
            "可以一部分用礼品卡、一部分用银行卡付吗？",
            "银行流水里同一笔消费出现了两条。",
            "页面说包邮，最后结算却多收了{amount}。",
            "钱已经从卡里扣了，网站却显示支付失败。",
            "可以用银行转账付款吗？",
            "卡被扣钱了，但订单列表里什么都没有，怎么回事",
            "报销需要电子发票，在哪里申请？",
            "小票上的金额和银行实际扣的对不上。",
            "{plan}自动续费扣了我{amount}，我不记得开通过自动续费。",
            "分期付款的选项为什么不见了？",
        ],
        extras=[
            "卡号尾号是{card_tail}。",
            "是{order_date}扣的。",
            "金额是{amount}。",
            "已经问过银行了。",
            "用的是我平时一直用的那张卡。",
        ],
    ),
    product_question=dict(
        bodies=[
            "{product}有别的颜色吗？",
            "{product}是什么材质的？",
            "{product}的尺寸是多少？",
            "{product}有保修吗？保多久？",
            "{product}什么时候补货？",
            "{product}适合送给十岁的小朋友吗？",
            "这款{product}和旁边便宜一点的那款有什么区别？",
            "{product}平时怎么清洁？",
            "{product}有没有大一号的？",
            "{product}包装里都有什么配件？",
            "{product}有多重？我住六楼没电梯。",
            "买之前想问一下，{product}需要自己组装吗？",
            "家里地方小，{product}会不会太占地方？",
            "{product}是新款还是去年的款？",
            "{product}是哪里生产的？",
            "想买{product}，新手用起来难不难？",
            "{product}防水吗？",
            "如果现在下单，{product}的颜色和图片一样吗？",
            "朋友去年在你们家买过{product}，现在卖的这款和之前的有区别吗？",
            "详情页没写{product}的使用寿命，能说一下吗？",
        ],
        extras=[
            "还在几款之间犹豫。",
            "详情页里没写清楚。",
            "是买给爸妈的。",
            "想今天就下单。",
            "描述里没找到。",
            "家里空间不大。",
        ],
    ),
)

# ---------------------------------------------------------------------------
# Chinese: tone parts and greetings
# ---------------------------------------------------------------------------

ZH_TONES = {
    1: dict(
        open=[
            "太离谱了！",
            "气死我了！",
            "你们这是什么服务？",
            "简直无语！",
            "我真的受够了！",
            "这已经是第三次找你们了！",
            "服了你们了。",
            "问了两遍都没人回！",
        ],
        close=[
            "再也不会在{shop}买东西了。",
            "差评，必须差评！",
            "前两次留言都没人理，太过分了。",
            "什么破服务。",
            "这次能不能回一下？",
        ],
        fix_close=["今天不解决我就投诉！", "赶紧给我处理！"],
    ),
    2: dict(
        open=["有点失望。", "说实话挺闹心的。", "等了好久了，有点着急。", "不太满意。", "有点无奈。"],
        close=[
            "希望这次能快点回复。",
            "感觉不太像{shop}平时的水平。",
            "别让我再催一次了。",
            "这点信息都要问半天。",
        ],
        fix_close=["麻烦尽快处理，挺耽误事的。", "有点失望，希望快点解决。"],
    ),
    3: dict(
        open=["请问一下，", "咨询一下，", "", "", ""],
        close=["麻烦告知。", "谢谢。", "请帮忙查一下。", "看到请回复。", "", ""],
    ),
    4: dict(
        open=["辛苦了！", "一直挺喜欢在{shop}买东西的。", "你们家东西一直不错。"],
        close=["先谢谢啦！", "麻烦你们了，谢谢！", "你们客服一直很耐心，谢谢！", "感谢帮忙！"],
    ),
    5: dict(
        open=["超级喜欢你们家！", "你们的服务真的太棒了！", "{shop}是我最喜欢的店！", "每次在你们家买东西都很开心！"],
        close=[
            "太感谢了，你们真的超棒！",
            "爱了爱了，谢谢你们！",
            "服务一直这么好，必须五星好评！",
            "非常感谢，一直很满意！",
            "辛苦啦，你们是最好的客服！",
        ],
    ),
}

ZH_GREETINGS = ["你好，", "您好，", "在吗？", "客服你好，", "亲，"]

PACKS = dict(
    en=dict(
        lang="en", slots=EN_SLOTS, intents=EN_INTENTS, tones=EN_TONES, greetings=EN_GREETINGS, signoffs=EN_SIGNOFFS
    ),
    zh=dict(lang="zh", slots=ZH_SLOTS, intents=ZH_INTENTS, tones=ZH_TONES, greetings=ZH_GREETINGS, signoffs=[]),
)

# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def _date(lang: str, day: dt.date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}" if lang == "en" else f"{day.month}月{day.day}日"


def make_ctx(rng: random.Random, pack: dict) -> dict:
    """One consistent set of slot values for a message."""
    lang, slots = pack["lang"], pack["slots"]
    ctx = {key: rng.choice(slots[key]) for key in ("shop", "name", "product", "courier", "plan", "city", "street")}
    order_date = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
    ctx["order_date"] = _date(lang, order_date)
    ctx["due_date"] = _date(lang, order_date + dt.timedelta(days=rng.randint(3, 6)))
    ctx["days"] = rng.randint(3, 12)
    ctx["order"] = rng.choice("ABCDEHKMNPRSTW") + str(rng.randint(1_000_000, 9_999_999))
    ctx["tracking"] = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXY") for _ in range(2)) + str(
        rng.randint(10**9, 10**10 - 1)
    )
    ctx["card_tail"] = f"{rng.randint(0, 9999):04d}"
    if lang == "en":
        value = rng.randint(8, 320) + rng.choice([0.0, 0.99, 0.5, 0.95, 0.49])
        ctx["amount"] = rng.choice(["$", "£", "€"]) + f"{value:,.2f}"
    else:
        value = rng.randint(19, 2999)
        ctx["amount"] = rng.choice([f"¥{value:.2f}", f"{value}元", f"{value}块"])
    return ctx


class Deck:
    """Hands out a list's items in shuffled cycles, so every template gets used about equally often."""

    def __init__(self, rng: random.Random, items: list):
        self.rng, self.items, self.queue = rng, list(items), []

    def draw(self):
        if not self.queue:
            self.queue = list(self.items)
            self.rng.shuffle(self.queue)
        return self.queue.pop()


def _join(lang: str, parts: list[str]) -> str:
    parts = [part for part in parts if part]
    if lang == "zh":
        out = parts[0]
        for part in parts[1:]:
            out += ("" if out[-1] in "，。！？”" else "，") + part  # casual templates end without punctuation
        return out
    out = parts[0]
    for part in parts[1:]:
        if out[-1] in ".!?”":  # a new sentence starts with a capital letter (casual templates are lower case)
            part = part[0].upper() + part[1:]
        elif out[-1].isalnum():  # casual templates end without punctuation
            out += "."
        out += " " + part
    return out


def _facts(template: str) -> set[str]:
    return {SAME_FACT.get(name, name) for _, name, _, _ in string.Formatter().parse(template) if name}


def render(rng: random.Random, pack: dict, label: str, body: str, extras: Deck, tone: int, ctx: dict) -> str:
    """Greeting, tone opener, intent body, 0-2 detail sentences, tone closer, sign-off; each part optional."""
    lang, tones = pack["lang"], pack["tones"][tone]
    closers = tones["close"] + ([] if label in QUESTION_ONLY else tones.get("fix_close", []))
    if tone == 3:
        opener = rng.choice(tones["open"]) if rng.random() < 0.3 else ""
        closer = rng.choice(closers) if rng.random() < 0.5 else ""
    else:
        shape = rng.choices(("open", "close", "both"), weights=(3, 3, 4 if tone in (1, 5) else 2))[0]
        opener = rng.choice(tones["open"]) if shape in ("open", "both") else ""
        closer = rng.choice(closers) if shape in ("close", "both") else ""
    greeting = rng.choice(pack["greetings"]) if rng.random() < (0.1 if tone == 1 else 0.35) else ""
    n_extra = rng.choices((0, 1, 2), weights=(5, 4, 1))[0]
    details: list[str] = []
    facts = _facts(body)
    for _ in range(n_extra):
        extra = extras.draw()
        if extra not in details and not _facts(extra) & facts:
            details.append(extra)
            facts |= _facts(extra)
    signoff = rng.choice(pack["signoffs"]) if pack["signoffs"] and tone > 1 and rng.random() < 0.1 else ""
    text = _join(lang, [part.format_map(ctx) for part in (greeting, opener, body, *details, closer)])
    if signoff:
        text += "\n" + signoff.format_map(ctx)
    return text


def intent_rows(rng: random.Random, pack: dict, label: str, seen: set[str]) -> list[dict]:
    """PER_INTENT_LANG unique rows of one intent and language, with the tones spread evenly over them."""
    intent = pack["intents"][label]
    bodies, extras = Deck(rng, intent["bodies"]), Deck(rng, intent["extras"])
    tones = [TONES[i % len(TONES)] for i in range(PER_INTENT_LANG)]
    rng.shuffle(tones)
    rows = []
    for tone in tones:
        for _ in range(100):  # dedupe, then top up with a fresh draw
            text = render(rng, pack, label, bodies.draw(), extras, tone, make_ctx(rng, pack))
            if text not in seen:
                seen.add(text)
                break
        else:
            raise RuntimeError(f"{pack['lang']}/{label}: too many duplicate messages; add more templates")
        score = min(5.0, max(1.0, tone + rng.choice(NOISE)))
        rows.append(dict(text=text, label=label, score=score, lang=pack["lang"]))
    return rows


def generate(seed: int = DEFAULT_SEED) -> list[dict]:
    """Return the shuffled rows: PER_INTENT_LANG per intent and language."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict] = []
    for lang in ("en", "zh"):
        for label in LABELS:
            rows += intent_rows(rng, PACKS[lang], label, seen)
    rng.shuffle(rows)
    return rows


def main() -> None:
    args = parse_args(__doc__, DEFAULT_OUT, DEFAULT_SEED)
    rows = generate(args.seed)
    payload = write_jsonl_gz(rows, args.out)
    print(
        f"wrote {len(rows)} rows, {len(payload):,} bytes uncompressed, "
        f"{args.out.stat().st_size:,} bytes compressed -> {args.out}"
    )
    counts = Counter((row["label"], row["lang"]) for row in rows)
    for label in LABELS:
        print(f"  {label:<17} en={counts[label, 'en']:>3}  zh={counts[label, 'zh']:>3}")
    scores = Counter(row["score"] for row in rows)
    print("  scores: " + ", ".join(f"{score:g}: {scores[score]}" for score in sorted(scores)))


if __name__ == "__main__":
    main()
