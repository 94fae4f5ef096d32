"""Chinese scan texts in the house styles of the big networks, with real hub and city names.

Each style maps a scan kind to a template; placeholders are filled from the journey
(`outlet`, `hub`, `next`, `courier`, `phone`, `station`, `code`, `who`, `reason`, `wrong`,
`right`, `brand`). Exception texts are shared by every style.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Final

_SHARED: Final[Mapping[str, str]] = {
    "in_transit": "快件已从【{hub}】发出，正在运输途中，下一站【{next}】",
    "misrouted": "快件错发至【{wrong}】，正在转回【{right}】",
    "misroute_back": "快件已从【{wrong}】发出，准备发往【{right}】",
    "stall_notice": "因{reason}，快件在【{hub}】滞留，我们将尽快为您发出",
    "damaged": "快件在【{hub}】发现外包装破损，已加固处理后继续转运",
    "lost": "快件在【{hub}】遗失，我司已启动理赔流程，给您带来不便深表歉意",
    "redelivery": "【{outlet}】快递员 {courier}（电话：{phone}）正在为您再次派件",
    "failed_address": "快件派送不成功，原因：收件地址不详，快件暂存【{outlet}】，"
    "请联系快递员 {courier}（电话：{phone}）",
    "failed_unreachable": "快件派送不成功，原因：收件人电话无人接听，快件暂存【{outlet}】",
    "failed_out_of_area": "快件派送不成功，原因：收件地址超出派送范围，快件暂存【{outlet}】",
    "refused": "收件人拒收，原因：{reason}，快件暂存【{outlet}】等待商家处理",
    "rejected": "快件已被收件人拒签，拒签原因：{reason}",
    "returning": "快件已退回，退回原因：{reason}，正在发往【{next}】",
    "return_arrived": "退回件已到达【{hub}】",
    "returned": "退回件已签收，签收人：寄件人",
    "signed_after_exception": "已签收，签收人：本人（再次派送后签收），感谢使用{brand}",
    "in_locker": "快件已被【{station}】代收，请及时取件，取件码 {code}",
    "signed_locker": "已签收，快件已从【{station}】取出，签收人：本人",
}

_STYLES: Final[Mapping[str, Mapping[str, str]]] = {
    "tongda": {
        "picked_up": "快件已被【{brand}{outlet}】揽收，揽收员：{courier}",
        "departed_outlet": "快件已从【{outlet}】发出，准备发往【{next}】",
        "arrived_hub": "快件已到达【{hub}】",
        "departed_hub": "快件已从【{hub}】发出，准备发往【{next}】",
        "arrived_city": "快件已到达【{hub}】",
        "arrived_outlet": "快件已到达【{outlet}】，正在安排派送",
        "out_for_delivery": "【{outlet}】快递员 {courier}（电话：{phone}）正在为您派件",
        "signed_self": "已签收，签收人：本人，感谢使用{brand}，期待再次为您服务",
        "signed_proxy": "已签收，签收人：{who}代签，如有疑问请联系快递员 {courier}"
        "（电话：{phone}）",
    },
    "sf": {
        "picked_up": "顺丰速运 已收取快件，【{outlet}】收件员：{courier}",
        "departed_outlet": "快件已从【{outlet}】发出，下一站【{next}】",
        "arrived_hub": "快件到达【{hub}】",
        "departed_hub": "快件在【{hub}】完成分拣，准备发往【{next}】",
        "arrived_city": "快件到达【{hub}】",
        "arrived_outlet": "快件到达【{outlet}】",
        "out_for_delivery": "快件交给{courier}，正在派送途中（联系电话：{phone}）",
        "signed_self": "已签收，签收人：本人。感谢使用顺丰，期待再次为您服务",
        "signed_proxy": "已签收，签收人：{who}代签。感谢使用顺丰，期待再次为您服务",
        "in_locker": "快件已放入【{station}】，请凭取件码 {code} 及时取件",
    },
    "jd": {
        "picked_up": "您的快件已由【{outlet}】揽收完成，揽收员：{courier}",
        "departed_outlet": "您的快件已从【{outlet}】发出，正在发往【{next}】",
        "arrived_hub": "您的快件已到达【{hub}】",
        "departed_hub": "您的快件在【{hub}】分拣完成，准备发往【{next}】",
        "arrived_city": "您的快件已到达【{hub}】",
        "arrived_outlet": "您的快件已到达【{outlet}】",
        "out_for_delivery": "您的快件正在派送中，请您准备签收"
        "（快递员：{courier}，联系电话：{phone}）",
        "signed_self": "您的快件已签收，签收人：本人。感谢您使用京东物流，期待再次为您服务",
        "signed_proxy": "您的快件已由{who}代签收，感谢您使用京东物流，期待再次为您服务",
        "in_locker": "您的快件已由【{station}】代收，请及时取件",
    },
    "post": {
        "picked_up": "【{outlet}】已收件，揽投员：{courier}",
        "departed_outlet": "离开【{outlet}】，下一站【{next}】",
        "arrived_hub": "到达【{hub}】",
        "departed_hub": "离开【{hub}】，下一站【{next}】",
        "arrived_city": "到达【{hub}】",
        "arrived_outlet": "到达【{outlet}】",
        "out_for_delivery": "【{outlet}】安排投递，投递员：{courier}，电话：{phone}",
        "signed_self": "已签收，本人收，投递员：{courier}，电话：{phone}",
        "signed_proxy": "已签收，他人代收：{who}，投递员：{courier}",
        "in_locker": "已投递至【{station}】，请凭取件码 {code} 及时取件",
    },
    "deppon": {
        "picked_up": "您的快件已被【{brand}{outlet}】揽收，揽收人：{courier}",
        "departed_outlet": "运输中，您的快件已从【{outlet}】发出，下一站【{next}】",
        "arrived_hub": "运输中，您的快件已到达【{hub}】",
        "departed_hub": "运输中，您的快件已从【{hub}】发出，下一站【{next}】",
        "arrived_city": "运输中，您的快件已到达【{hub}】",
        "arrived_outlet": "您的快件已到达【{outlet}】，正在安排派送",
        "out_for_delivery": "派送中，派送人：{courier}，电话：{phone}",
        "signed_self": "正常签收，签收人：本人，感谢您使用德邦快递",
        "signed_proxy": "正常签收，签收人：{who}代签，感谢您使用德邦快递",
    },
}

SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
)
GIVEN: Final = (
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
    "秀英", "华", "建国", "志强", "海燕", "小红", "晓东", "春梅", "国平", "德明", "丽华",
)  # fmt: skip
STATIONS: Final = ("菜鸟驿站", "丰巢快递柜", "妈妈驿站", "兔喜生活超市", "中邮驿站")
PROXIES: Final = ("家人", "门卫", "前台", "同事", "物业")
REFUSALS: Final = ("不想要了", "商品与描述不符", "重复购买", "未订购此商品")
RETURN_REASONS: Final = ("收件人拒收", "收件地址错误", "收件人联系不上", "超区无法派送")


def render(style: str, kind: str, values: Mapping[str, str]) -> str:
    template = _STYLES[style].get(kind) or _SHARED.get(kind) or _STYLES["tongda"][kind]
    return template.format(**values)


def courier_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def masked_phone(rng: random.Random) -> str:
    """A courier's number as carriers print it, masked, so it is nobody's real number."""
    return f"1{rng.choice('3589')}{rng.randrange(10)}****{rng.randrange(10000):04d}"
