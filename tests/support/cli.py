"""The `parcelwatch` command line as the CLI tests drive it: an ERP export with one order per
kind of trouble, and the command run in process."""

from __future__ import annotations

from click.testing import CliRunner, Result

from monitor.cli import main

HEADER = (
    "订单编号,平台,仓库,付款时间,快递公司,快递单号,发货时间,收货省份,揽收时间,最后更新时间,物流状态"
)


ROWS = [
    "A1,淘宝,hz1,2026-11-20 10:00,,,,江苏,,,",  # unshipped: past cutoff and past 48 h
    "A2,拼多多,hz1,2026-11-20 10:00,中通,7301,2026-11-20 15:00,新疆,,,",  # no pickup scan
    "A3,天猫,hz1,2026-11-19 10:00,顺丰,SF1,2026-11-19 15:00,广东,2026-11-19 18:00,"
    "2026-11-20 02:00,运输中",  # stalled, delayed
    "A4,天猫,hz1,2026-11-19 10:00,顺丰,SF2,2026-11-19 15:00,广东,2026-11-19 18:00,"
    "2026-11-20 02:00,拒签",  # rejected
]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)
