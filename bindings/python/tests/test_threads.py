"""Many threads on one client: every caller gets its own results."""

import threading

import cairn


def test_many_threads_one_client(client, hunt):
    hid = hunt.hunt_id
    n_threads, n_calls = 16, 300
    players = [client.join(hid, 1500, 1500 + 10 * i) for i in range(n_threads)]
    errors = []
    barrier = threading.Barrier(n_threads)

    def work(i):
        try:
            p = players[i]
            barrier.wait()
            for k in range(n_calls):
                x = 1500 + (k % 50) * 10
                if k % 3 == 0:
                    st = client.player_state(hid, p)
                    assert st.player_id == p
                elif k % 7 == 0:
                    res = client.move_many(hid, [(p, x, 1500 + 10 * i), (p, 500, 500)])
                    assert isinstance(res[0], cairn.Moved) and res[0].player_id == p
                    assert isinstance(res[1], cairn.BlockedError)
                else:
                    m = client.move(hid, p, x, 1500 + 10 * i)
                    # The result is this thread's: its player, where it asked.
                    assert (m.player_id, m.x, m.y) == (p, x, 1500 + 10 * i)
        except BaseException as e:  # noqa: B902 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not any(t.is_alive() for t in ts)
    assert errors == []
    info = client.daemon_info()
    assert info["moves"] >= n_threads * n_calls // 2


def test_threads_mix_calls_and_submit(client, hunt):
    """A thread polling submit() results never takes a call's result, and back."""
    hid = hunt.hunt_id
    p = client.join(hid, 1500, 1500)
    stop = threading.Event()
    got, errors = [], []

    def poller():
        try:
            sent = 0
            while sent < 2000 or len(got) < sent:
                if sent < 2000 and client.submit(cairn.msg.ping(sent)) is not None:
                    sent += 1
                for rid, obj in client.wait(timeout=0.01):
                    assert isinstance(obj, cairn.Pong)
                    got.append(obj.client_stamp)
        except BaseException as e:  # noqa: B902
            errors.append(e)

    t = threading.Thread(target=poller)
    t.start()
    for k in range(2000):
        assert client.move(hid, p, 1500 + k % 100, 1500).x == 1500 + k % 100
    stop.set()
    t.join(30)
    assert errors == []
    assert sorted(got) == list(range(len(got))) and len(got) == 2000
