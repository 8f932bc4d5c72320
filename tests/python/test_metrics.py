"""Ring.stats() and Ring.prometheus() on real ranks: exact counts, failures by cause, threads."""

TRAFFIC = r"""
import threading
import time
import numpy as np
import ringpipe

with ringpipe.Ring() as ring:
    r, n = ring.rank, ring.world_size
    sizes = [0, 8, 4096, 65536]
    for i, size in enumerate(sizes):
        got = np.zeros(size + 16, dtype=np.uint8)
        receive = ring.pred.irecv(got, tag=i)
        ring.succ.send(np.full(size, r, dtype=np.uint8), tag=i, timeout=30)
        receive.wait(timeout=30)
        assert receive.nbytes == size
    ring.pred.send(np.zeros(100, dtype=np.uint8), tag=50, timeout=30)
    ring.succ.recv(np.zeros(100, dtype=np.uint8), tag=50, timeout=30)

    try:
        ring.pred.recv(bytearray(1), tag=99, timeout=0.1)
        raise AssertionError("expected a timeout")
    except ringpipe.TimeoutError:
        pass

    stats = ring.stats()
    assert (stats["rank"], stats["world_size"]) == (r, n), stats
    assert stats["rendezvous_seconds"] > 0
    assert stats["liveness_beats_missed"] >= 0
    pred, succ = stats["edges"]["pred"], stats["edges"]["succ"]
    assert sorted(stats["edges"]) == ["pred", "succ"]
    assert (pred["peer"], succ["peer"]) == ((r - 1) % n, (r + 1) % n)
    assert succ["data_path"] == "host" and succ["transports"], succ
    assert (succ["send"]["messages"], succ["send"]["bytes"]) == (4, sum(sizes)), succ["send"]
    assert (pred["recv"]["messages"], pred["recv"]["bytes"]) == (4, sum(sizes)), pred["recv"]
    assert (pred["send"]["messages"], pred["send"]["bytes"]) == (1, 100), pred["send"]
    assert (succ["recv"]["messages"], succ["recv"]["bytes"]) == (1, 100), succ["recv"]
    assert pred["recv"]["failures"]["Timeout"] == 1, pred["recv"]["failures"]
    assert sum(pred["recv"]["failures"].values()) == 1
    assert pred["last_error"]["code"] == "Timeout", pred["last_error"]
    assert "timed out" in pred["last_error"]["message"], pred["last_error"]
    assert succ["last_error"] is None
    for edge in (pred, succ):
        for direction in (edge["send"], edge["recv"]):
            assert direction["in_flight"] == 0, direction
            assert len(direction["latency_buckets"]) == 32
            assert sum(direction["latency_buckets"]) == direction["messages"], direction

    text = ring.prometheus()
    assert "# TYPE ringpipe_messages_total counter" in text, text
    line = ('ringpipe_messages_total{rank="%d",peer="%d",edge="succ",direction="send"} 4'
            % (r, (r + 1) % n))
    assert line in text.splitlines(), text
    assert 'cause="Timeout"} 1' in text, text

    # A scrape thread reads the counters while this thread is blocked in a receive.
    if r == 0:
        scraped = []
        def scrape():
            for _ in range(20):
                scraped.append(ring.stats()["edges"]["pred"]["recv"]["in_flight"])
                time.sleep(0.01)
        scraper = threading.Thread(target=scrape)
        scraper.start()
        ring.pred.recv(bytearray(1), tag=60, timeout=30)
        scraper.join()
        assert 1 in scraped, scraped
    else:
        time.sleep(0.5)
        ring.succ.send(b"x", tag=60, timeout=30)
    ring.succ.send(b"y", tag=61, timeout=30)
    ring.pred.recv(bytearray(1), tag=61, timeout=30)
print("ok", flush=True)
"""


def test_stats_count_exactly_and_are_readable_from_another_thread(run_ring):
    results = run_ring(2, TRAFFIC, timeout=120)
    assert all(r.stdout.strip() == "ok" for r in results), [r.stdout for r in results]


def test_stats_of_a_closed_ring_raise_closed():
    import pytest
    import ringpipe

    ring = ringpipe.Ring(env=False, world_size=1)
    receive = ring.pred.irecv(bytearray(3))
    ring.succ.send(b"abc")
    receive.wait(timeout=10)
    assert ring.stats()["edges"]["succ"]["send"]["messages"] == 1
    ring.close()
    with pytest.raises(ringpipe.ClosedError):
        ring.stats()
    with pytest.raises(ringpipe.ClosedError):
        ring.prometheus()
