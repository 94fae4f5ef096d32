"""The simulator over real HTTP on loopback: the Kuaidi100 and 17TRACK wire formats, push
callbacks to a receiver with signatures checked independently, retries, and faults."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carriers.sim import Faults, ManualClock, SimWorld
from carriers.sim.codes import KUAIDI100_NAMES
from carriers.sim.runner import RunningServer, start_in_thread
from carriers.sim.server import create_app
from carriers.sim.state import SimState

CN = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, 8, 0, tzinfo=CN)
CUSTOMER, KEY, TOKEN, SALT = "C0FFEE0123456", "k100-secret-key", "t17-secret-token", "s4lt"
ZTO_NUMBER = "73100000000001"


@dataclass
class Sim:
    url: str
    world: SimWorld
    clock: ManualClock
    state: SimState
    client: httpx.Client

    def query(self, param: dict[str, Any], *, sign: str | None = None) -> httpx.Response:
        raw = json.dumps(param)
        digest = hashlib.md5((raw + KEY + CUSTOMER).encode()).hexdigest().upper()
        form = {"customer": CUSTOMER, "sign": sign or digest, "param": raw}
        return self.client.post("/poll/query.do", data=form)

    def subscribe(self, param: dict[str, Any]) -> httpx.Response:
        return self.client.post("/poll", data={"schema": "json", "param": json.dumps(param)})

    def t17(self, path: str, items: Any, token: str = TOKEN) -> httpx.Response:
        return self.client.post(f"/track/v2.2/{path}", json=items, headers={"17token": token})


@dataclass
class Receiver:
    """A tiny push receiver: records what arrives; answers 500 while `failing`."""

    kuaidi100: list[dict[str, str]] = field(default_factory=list)
    track17: list[tuple[bytes, str]] = field(default_factory=list)
    failing: bool = False

    def app(self) -> Starlette:
        async def k100(request: Request) -> Response:
            if self.failing:
                return Response("down", 500)
            form = await request.form()
            self.kuaidi100.append({k: str(v) for k, v in form.items()})
            return JSONResponse({"result": True, "returnCode": "200", "message": "成功"})

        async def t17(request: Request) -> Response:
            if self.failing:
                return Response("down", 500)
            self.track17.append((await request.body(), request.headers.get("sign", "")))
            return Response("ok")

        routes = [Route("/k100", k100, methods=["POST"]), Route("/t17", t17, methods=["POST"])]
        return Starlette(routes=routes)


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    running: list[RunningServer] = []
    yield running
    for server in reversed(running):
        server.stop()


@pytest.fixture
def make_sim(servers: list[RunningServer]) -> Iterator[Callable[..., Sim]]:
    clients: list[httpx.Client] = []

    def make(**options: Any) -> Sim:
        world, clock = SimWorld(seed=11), ManualClock(START)
        options.setdefault("push_interval", 0.05)
        app = create_app(
            world,
            clock,
            kuaidi100_customer=CUSTOMER,
            kuaidi100_key=KEY,
            track17_key=TOKEN,
            **options,
        )
        server = start_in_thread(app)
        servers.append(server)
        client = httpx.Client(base_url=server.url, timeout=10)
        clients.append(client)
        return Sim(server.url, world, clock, app.state.sim, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sim(make_sim: Callable[..., Sim]) -> Sim:
    return make_sim(pushes=False)


def receive(servers: list[RunningServer], port: int = 0) -> tuple[Receiver, str]:
    receiver = Receiver()
    server = start_in_thread(receiver.app(), port=port)
    servers.append(server)
    return receiver, server.url


def seed_zto(sim: Sim, hours: float = 40) -> None:
    sim.world.register(ZTO_NUMBER, "zto", "浙江", "广东", handed_over_at=START, phone="13800001234")
    sim.clock.advance(hours=hours)


# --- Kuaidi100 query -----------------------------------------------------------------


def test_query_answers_the_documented_body_newest_first(sim: Sim) -> None:
    seed_zto(sim)
    answer = sim.query({"com": "zhongtong", "num": ZTO_NUMBER, "phone": "1234", "resultv2": "4"})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["message"], body["status"], body["nu"], body["com"]) == (
        "ok",
        "200",
        ZTO_NUMBER,
        "zhongtong",
    )
    data = body["data"]
    times = [d["time"] for d in data]
    assert times == sorted(times, reverse=True) and len(data) >= 2
    assert body["state"] == data[0]["statusCode"]  # advanced state with resultv2=4
    for item in data:
        assert item["ftime"] == item["time"]
        assert item["statusCode"] in KUAIDI100_NAMES
        assert item["status"] == KUAIDI100_NAMES[item["statusCode"]]
        assert item["areaCode"].startswith("CN")
    assert body["ischeck"] == "0"
    assert set(body["routeInfo"]) == {"from", "cur", "to"}
    truth = sim.client.get(f"/_sim/truth/{ZTO_NUMBER}").json()
    visible = [e for e in truth["events"] if e["time"] <= sim.clock.now().isoformat()]
    assert [d["context"] for d in data] == [e["context"] for e in reversed(visible)]

    # Without resultv2 the state is a base code; after the signature, ischeck is "1".
    sim.clock.set(sim.world.plan(ZTO_NUMBER).events[-1].time + timedelta(hours=1))
    plain = sim.query({"com": "zhongtong", "num": ZTO_NUMBER, "phone": "13800001234"}).json()
    assert plain["state"] == "3" and plain["ischeck"] == "1"
    assert "statusCode" not in plain["data"][0]


def test_query_rejects_bad_signature_customer_and_missing_phone(sim: Sim) -> None:
    seed_zto(sim)
    param = {"com": "zhongtong", "num": ZTO_NUMBER, "phone": "1234"}
    assert sim.query(param, sign="0" * 32).json()["returnCode"] == "503"
    lower = hashlib.md5((json.dumps(param) + KEY + CUSTOMER).encode()).hexdigest()
    assert sim.query(param, sign=lower).json()["returnCode"] == "503"  # must be uppercase
    wrong_customer = sim.client.post(
        "/poll/query.do", data={"customer": "nobody", "sign": "X", "param": json.dumps(param)}
    )
    assert wrong_customer.json()["returnCode"] == "400"
    no_phone = sim.query({"com": "zhongtong", "num": ZTO_NUMBER})
    assert no_phone.json() == {
        "result": False,
        "returnCode": "408",
        "message": no_phone.json()["message"],
    }
    assert sim.query({**param, "phone": "9999"}).json()["returnCode"] == "408"
    assert sim.query({"com": "shunfeng", "num": "SF1234567890"}).json()["returnCode"] == "408"
    assert sim.query({"com": "nosuchco", "num": ZTO_NUMBER}).json()["returnCode"] == "400"


def test_query_unknown_or_unscanned_number_has_no_result_yet(sim: Sim) -> None:
    unknown = sim.query({"com": "yuantong", "num": "YT9999999999999"}).json()
    assert unknown == {
        "result": False,
        "returnCode": "500",
        "message": "查询无结果，请隔段时间再查",
    }
    sim.world.register("YT1111111111111", "yto", handed_over_at=START + timedelta(hours=1))
    assert sim.query({"com": "yuantong", "num": "YT1111111111111"}).json()["returnCode"] == "500"
    sim.clock.advance(hours=30)
    assert sim.query({"com": "yuantong", "num": "YT1111111111111"}).json()["status"] == "200"
    # A number of another company is "no result" too.
    assert sim.query({"com": "yunda", "num": "YT1111111111111"}).json()["returnCode"] == "500"


# --- Kuaidi100 subscribe and push ----------------------------------------------------


def subscription(callback: str, **parameters: str) -> dict[str, Any]:
    return {
        "company": "zhongtong",
        "number": ZTO_NUMBER,
        "from": "浙江省杭州市",
        "to": "广东省深圳市南山区",
        "key": KEY,
        "parameters": {"callbackurl": callback, "salt": SALT, "resultv2": "4", **parameters},
    }


def test_subscribe_then_receive_a_signed_push(
    make_sim: Callable[..., Sim], servers: list[RunningServer]
) -> None:
    sim = make_sim()
    receiver, base = receive(servers)
    ok = sim.subscribe(subscription(f"{base}/k100?orderId=1", phone="13800001234"))
    assert ok.json() == {"result": True, "returnCode": "200", "message": "提交成功"}
    plan = sim.world.plan(ZTO_NUMBER)
    assert (plan.origin, plan.destination, plan.destination_city) == ("浙江", "广东", "深圳市")
    dup = sim.subscribe(subscription(f"{base}/k100"))
    assert dup.json()["returnCode"] == "501"
    bad_key = sim.subscribe({**subscription(f"{base}/k100"), "key": "wrong", "number": "7319"})
    assert bad_key.json()["returnCode"] == "600"

    sim.clock.advance(hours=30)
    wait_for(lambda: receiver.kuaidi100)
    push = receiver.kuaidi100[0]
    expected = hashlib.md5((push["param"] + SALT).encode()).hexdigest().upper()
    assert push["sign"] == expected
    param = json.loads(push["param"])
    assert param["status"] == "polling"
    last = param["lastResult"]
    assert last["nu"] == ZTO_NUMBER and last["com"] == "zhongtong"
    assert [d["time"] for d in last["data"]] == sorted(
        (d["time"] for d in last["data"]), reverse=True
    )

    # The last push of a finished parcel says shutdown and carries the whole history.
    sim.clock.set(plan.events[-1].time + timedelta(minutes=5))
    wait_for(lambda: json.loads(receiver.kuaidi100[-1]["param"])["status"] == "shutdown")
    final = json.loads(receiver.kuaidi100[-1]["param"])["lastResult"]
    assert len(final["data"]) == len(plan.events)
    count = len(receiver.kuaidi100)
    time.sleep(0.3)
    assert len(receiver.kuaidi100) == count  # nothing after shutdown


def test_pushes_are_retried_after_the_receiver_was_down(
    make_sim: Callable[..., Sim], servers: list[RunningServer]
) -> None:
    port = free_port()  # nobody listens here yet: connection refused
    sim = make_sim(max_push_attempts=1000)
    sim.subscribe(subscription(f"http://127.0.0.1:{port}/k100", phone="1234"))
    sim.clock.advance(hours=30)
    wait_for(lambda: sim.state.pushes["kuaidi100:failed"] >= 2)
    sim.clock.advance(hours=6)  # more scans while the receiver is down
    receiver, _ = receive(servers, port=port)
    wait_for(lambda: receiver.kuaidi100)
    delivered = json.loads(receiver.kuaidi100[0]["param"])["lastResult"]["data"]
    visible = sim.world.visible_events(ZTO_NUMBER, sim.clock.now())
    assert len(delivered) == len(visible)  # cumulative: nothing was lost while down
    wait_for(lambda: sim.state.pushes["kuaidi100:sent"] >= 1)  # counted after the reply
    stats = sim.client.get("/_sim/stats").json()
    assert stats["pushes"]["kuaidi100:sent"] >= 1 and stats["pushes"]["kuaidi100:failed"] >= 2


def test_a_push_that_keeps_failing_is_given_up_then_the_next_carries_everything(
    make_sim: Callable[..., Sim], servers: list[RunningServer]
) -> None:
    sim = make_sim(max_push_attempts=2)
    receiver, base = receive(servers)
    receiver.failing = True
    sim.subscribe(subscription(f"{base}/k100", phone="1234"))
    sim.clock.advance(hours=20)
    wait_for(lambda: sim.state.pushes["kuaidi100:gave_up"] >= 1)
    assert sim.state.pushes["kuaidi100:failed"] == 2
    receiver.failing = False
    plan = sim.world.plan(ZTO_NUMBER)
    sim.clock.set(plan.events[-2].time)  # at least one new scan since the abandoned update
    wait_for(lambda: receiver.kuaidi100)
    data = json.loads(receiver.kuaidi100[0]["param"])["lastResult"]["data"]
    assert len(data) == len(plan.events) - 1


def test_bad_signature_fault_makes_pushes_fail_verification(
    make_sim: Callable[..., Sim], servers: list[RunningServer]
) -> None:
    sim = make_sim(faults=Faults(rate_bad_signature=1.0))
    receiver, base = receive(servers)
    sim.subscribe(subscription(f"{base}/k100", phone="1234"))
    sim.clock.advance(hours=20)
    wait_for(lambda: receiver.kuaidi100)
    push = receiver.kuaidi100[0]
    assert push["sign"] != hashlib.md5((push["param"] + SALT).encode()).hexdigest().upper()
    assert sim.state.faults.injected["bad_signature"] >= 1


# --- 17TRACK -------------------------------------------------------------------------


def test_17track_register_and_gettrackinfo(sim: Sim) -> None:
    sim.world.register("9876543210987", "ems", "广东", "新疆", handed_over_at=START)
    registered = sim.t17("register", [{"number": "9876543210987", "carrier": 3013, "tag": "o1"}])
    assert registered.status_code == 200
    assert registered.json()["data"]["accepted"] == [
        {"origin": 1, "number": "9876543210987", "carrier": 3013, "tag": "o1"}
    ]
    sim.clock.advance(hours=30)
    answer = sim.t17("gettrackinfo", [{"number": "9876543210987"}, {"number": "NOPE123456"}])
    body = answer.json()
    assert body["code"] == 0
    [rejected] = body["data"]["rejected"]
    assert rejected["number"] == "NOPE123456" and rejected["error"]["code"] == -18019902
    [item] = body["data"]["accepted"]
    info = item["track_info"]
    assert item["carrier"] == 3013 and item["tag"] == "o1"
    events = info["tracking"]["providers"][0]["events"]
    assert events and events[0] == info["latest_event"]
    assert [e["time_utc"] for e in events] == sorted((e["time_utc"] for e in events), reverse=True)
    assert info["latest_status"]["status"] == "InTransit"
    assert info["latest_status"]["sub_status"] == events[0]["sub_status"]
    eta = info["time_metrics"]["estimated_delivery_date"]
    assert eta["from"] and eta["to"] and eta["from"] < eta["to"]
    again = sim.t17("register", [{"number": "9876543210987", "carrier": 3013}])
    assert again.json()["data"]["rejected"][0]["error"]["code"] == -18010012


def test_17track_invalid_key_and_rate_limit(make_sim: Callable[..., Sim]) -> None:
    # A slow bucket (1 request/s, bursts of 3) so even a loaded machine sees the limit.
    sim = make_sim(pushes=False, track17_rate=1.0)
    denied = sim.t17("gettrackinfo", [{"number": "X"}], token="wrong").json()
    assert denied["code"] == -18010002
    statuses = [sim.t17("gettrackinfo", []).status_code for _ in range(10)]
    assert 429 in statuses and statuses.count(200) >= 2
    too_many = [{"number": f"N{i:08d}"} for i in range(41)]
    time.sleep(1.1)
    assert sim.t17("gettrackinfo", too_many).json()["code"] != 0


def test_17track_webhook_is_signed(
    make_sim: Callable[..., Sim], servers: list[RunningServer]
) -> None:
    receiver, base = receive(servers)
    sim = make_sim(track17_webhook_url=f"{base}/t17")
    sim.world.register("SF1400000000001", "sf", "广东", "广东", handed_over_at=START)
    assert sim.t17("register", [{"number": "SF1400000000001"}]).json()["data"]["accepted"]
    sim.clock.advance(hours=12)
    wait_for(lambda: receiver.track17)
    body, sign = receiver.track17[0]
    assert sign == hashlib.sha256(body + b"/" + TOKEN.encode()).hexdigest()
    payload = json.loads(body)
    assert payload["event"] == "TRACKING_UPDATED"
    assert payload["data"]["number"] == "SF1400000000001"
    assert payload["data"]["track_info"]["tracking"]["providers"][0]["events"]
    sim.clock.advance(days=10)  # delivered: one last update, then stopped
    wait_for(lambda: json.loads(receiver.track17[-1][0])["event"] == "TRACKING_STOPPED")


# --- faults and admin ----------------------------------------------------------------


def test_faults_on_demand(sim: Sim) -> None:
    seed_zto(sim)
    param = {"com": "zhongtong", "num": ZTO_NUMBER, "phone": "1234"}
    assert sim.client.post("/_sim/faults", json={"rate_429": 1.0}).json()["rate_429"] == 1.0
    assert sim.query(param).status_code == 429
    sim.client.post("/_sim/faults", json={"rate_429": 0, "rate_5xx": 1})
    assert sim.query(param).status_code in {500, 502, 503}
    sim.client.post("/_sim/faults", json={"rate_5xx": 0, "rate_malformed": 1})
    broken = sim.query(param)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        json.loads(broken.text)
    sim.client.post("/_sim/faults", json={"rate_malformed": 0, "rate_duplicate": 1})
    data = sim.query(param).json()["data"]
    assert len(data) > len({d["time"] for d in data})
    sim.client.post("/_sim/faults", json={"rate_duplicate": 0, "rate_out_of_order": 1})
    data = sim.query(param).json()["data"]
    assert [d["time"] for d in data] != sorted((d["time"] for d in data), reverse=True)
    sim.client.post(
        "/_sim/faults", json={"rate_out_of_order": 0, "rate_slow": 1, "slow_seconds": 0.3}
    )
    started = time.monotonic()
    assert sim.query(param).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert sim.client.post("/_sim/faults", json={"rate_teleport": 1}).status_code == 400
    assert sim.client.post("/_sim/faults", json={"rate_429": 2}).status_code == 400
    stats = sim.client.get("/_sim/stats").json()
    assert {"429", "5xx", "malformed", "duplicate", "out_of_order", "slow"} <= set(
        stats["faults_injected"]
    )
    assert stats["requests"]["kuaidi100.query"] == 6


def test_admin_register_truth_clock_and_health(sim: Sim) -> None:
    assert sim.client.get("/healthz").json()["status"] == "ok"
    seeded = sim.client.post(
        "/_sim/register",
        json=[
            {"number": "JD0000000000001", "carrier": "京东", "origin": "北京",
             "destination": "上海", "handed_over_at": "2026-03-02T09:00:00"},
            {"number": "DPK000000000001", "carrier": "debang"},
        ],
    )  # fmt: skip
    assert seeded.status_code == 200
    first = seeded.json()["registered"][0]
    assert first["carrier"] == "jd" and first["band"] == "cross_region"
    assert (
        sim.client.post("/_sim/register", json={"number": "X1", "carrier": "owl"}).status_code
        == 400
    )
    truth = sim.client.get("/_sim/truth/JD0000000000001").json()
    assert truth["handed_over_at"] == "2026-03-02T01:00:00+00:00"  # naive = China time
    assert truth["outcome"] and truth["events"] and truth["visible"] == 0
    assert sim.client.get("/_sim/truth/unknown").status_code == 404
    moved = sim.client.post("/_sim/clock", json={"advance_hours": 48}).json()
    assert datetime.fromisoformat(moved["now"]) == START + timedelta(hours=48)
    assert sim.client.get("/_sim/truth/JD0000000000001").json()["visible"] > 0
