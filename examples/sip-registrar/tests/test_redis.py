"""The redis_server fixture, for the cluster tests to come: a server of the
test's own on a free loopback port, with no persistence."""


def test_redis_server_starts(redis_server):
    assert redis_server.command("PING") == "+PONG"
    assert redis_server.command("SET", "mcreg:probe", "1") == "+OK"
    assert redis_server.command("GET", "mcreg:probe") == "$1"
