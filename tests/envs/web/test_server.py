"""SiteServer: each site on its own loopback port, reset from a seed, quick to start and stop."""

import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from prmgym.envs.web.sites.server import SITES, SiteError, SiteServer


def _listening_addresses(port: int) -> list[str]:
    """The local addresses of listening TCP sockets on ``port``, from /proc/net/tcp{,6}."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


def test_each_site_answers_on_its_own_loopback_port(server, client):
    urls = [server.url(site) for site in SITES]
    assert len(set(urls)) == len(SITES)
    for url in urls:
        assert url.startswith("http://127.0.0.1:") and not url.endswith("/")
        response = client.get(url + "/")
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/net/tcp")
def test_servers_listen_on_127_0_0_1_only(server):
    for site in SITES:
        port = int(server.url(site).rsplit(":", 1)[1])
        assert _listening_addresses(port) == ["0100007F"]  # 127.0.0.1, little-endian hex


def _change_every_site(server, client):
    shop, forum, admin = (server.url(site) for site in SITES)
    product = next(p for p in server.state("shop").data.products if p.stock)
    assert client.post(shop + "/cart/add", data={"product_id": product.id}).is_success
    assert client.post(forum + "/t/1/reply", data={"text": "A change."}).is_success
    username = server.state("admin").data.users[0].username
    assert client.post(admin + f"/users/{username}/delete").is_success


def test_reset_with_the_same_seed_gives_identical_state_and_other_seeds_differ(server, client):
    first = server.snapshot()
    _change_every_site(server, client)
    assert all(server.snapshot()[site] != first[site] for site in SITES)
    server.reset(0)
    assert server.snapshot() == first
    server.reset(1)
    assert all(server.snapshot()[site] != first[site] for site in SITES)
    assert server.state("shop").seed == 1


def test_snapshot_and_restore_put_every_site_back(server, client):
    token = server.snapshot()
    for _ in range(2):  # the snapshot is copied in, so it stays reusable
        _change_every_site(server, client)
        server.restore(token)
        assert server.snapshot() == token
    with pytest.raises(SiteError, match="snapshot holds sites"):
        server.restore({"shop": token["shop"]})


def test_two_servers_run_at_once_with_their_own_state(client):
    with SiteServer(seed=0) as one, SiteServer(seed=0) as two:
        assert {one.url(site) for site in SITES}.isdisjoint(two.url(site) for site in SITES)
        reply = {"text": "Only on the first server."}
        assert client.post(one.url("forum") + "/t/1/reply", data=reply).status_code == 200
        assert "Only on the first server." in client.get(one.url("forum") + "/t/1").text
        assert "Only on the first server." not in client.get(two.url("forum") + "/t/1").text


def test_start_is_fast_and_close_stops_every_thread_and_port():
    before = set(threading.enumerate())
    began = time.perf_counter()
    server = SiteServer().start()
    assert time.perf_counter() - began < 1.0
    urls = [server.url(site) for site in SITES]
    server.close()
    assert set(threading.enumerate()) <= before
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/", timeout=2)
    server.close()  # a second close is harmless
    assert not server.started


def test_misuse_raises_errors_that_say_what_to_do():
    with pytest.raises(SiteError, match="the sites are shop, forum, admin"):
        SiteServer(sites=["shop", "bank"])
    server = SiteServer(sites=["shop"])
    with pytest.raises(SiteError, match="call start"):
        server.url("shop")
    with pytest.raises(SiteError, match="unknown site 'forum'"):
        server.state("forum")
    with server:
        assert server.sites == ("shop",)
        with pytest.raises(SiteError, match="already started"):
            server.start()
