# The hvac 0.11.2 (Debian python3-hvac) side of test/e2e/hvac.test.ts: drives a coffer server
# through an unmodified hvac client in two phases around a server restart.
#
# Usage: /usr/bin/python3 hvac_scenario.py PHASE URL   (a JSON object on stdin)
#   init-and-write  stdin {"canaries": {...}}; initialises 5/3, unseals, mounts, writes; prints
#                   {"keys", "keys_base64", "root_token"} as JSON on stdout.
#   after-restart   stdin {"keys", "keys_base64", "root_token", "canaries"}; checks the server
#                   is sealed, unseals with three other shares, verifies every write.
# Exits 0 on success; on a failed check prints the step and the reason on stderr, exits 1.
import sys

import hvac
from hvac import exceptions

from hvac_phase import run_phases

STEP = ["start"]


def step(name):
    STEP[0] = name


def expect_raises(exc_type, fn, *args, **kwargs):
    """Calls fn and returns the exception it must raise (an instance of exc_type)."""
    try:
        result = fn(*args, **kwargs)
    except exc_type as err:
        return err
    raise AssertionError(
        "expected %s, got a result of type %s" % (exc_type.__name__, type(result).__name__)
    )


def status_of(response):
    """hvac returns a dict for a 200 and the requests.Response otherwise."""
    return 200 if isinstance(response, dict) else response.status_code


def check_unsealed_health(client):
    step("sys/health (GET and HEAD) when unsealed")
    health = client.sys.read_health_status(method="GET")
    assert isinstance(health, dict), "GET sys/health: status %s" % status_of(health)
    assert health["initialized"] is True, health
    assert health["sealed"] is False, health
    assert health["standby"] is False, health
    head = client.sys.read_health_status(method="HEAD")
    assert head.status_code == 200, "HEAD sys/health: %s" % head.status_code


def verify_data(client, c, final_version):
    """Every write of phase 1 (and the KV v2 patch) reads back exactly."""
    kv1 = client.secrets.kv.v1
    kv2 = client.secrets.kv.v2

    step("list_mounted_secrets_engines")
    mounts = client.sys.list_mounted_secrets_engines()
    for view in (mounts["data"], mounts):
        assert view["secret/"]["type"] == "kv", view["secret/"]
        assert view["secret/"]["options"]["version"] == "2", view["secret/"]
        assert view["kv1/"]["type"] == "kv", view["kv1/"]
        assert "scratch/" not in view, "scratch/ is still mounted"

    step("kv v1 read_secret / list_secrets")
    db = kv1.read_secret("app/db", mount_point="kv1")
    assert db["data"] == {"user": "app", "password": c["kv1_password_2"]}, "kv1 app/db differs"
    assert kv1.list_secrets("app", mount_point="kv1")["data"]["keys"] == ["cache", "db"]
    assert kv1.list_secrets("", mount_point="kv1")["data"]["keys"] == ["app/"]
    expect_raises(exceptions.InvalidPath, kv1.read_secret, "other", mount_point="kv1")

    step("kv v2 read_secret_version (latest)")
    latest = kv2.read_secret_version("x", mount_point="secret")
    assert latest["data"]["metadata"]["version"] == final_version, latest["data"]["metadata"]
    assert latest["data"]["data"] == {
        "v": "two",
        "s": c["v2_secret_2"],
        "p": c["v2_patched"],
    }, "kv2 x latest differs"

    step("kv v2 read_secret_version(version=2)")
    v2 = kv2.read_secret_version("x", version=2, mount_point="secret")
    assert v2["data"]["data"] == {"v": "two", "s": c["v2_secret_2"]}, "kv2 x v2 differs"

    step("kv v2 destroyed version 1 reads as missing")
    expect_raises(exceptions.InvalidPath, kv2.read_secret_version, "x", version=1, mount_point="secret")

    step("kv v2 read_secret_metadata")
    meta = kv2.read_secret_metadata("x", mount_point="secret")["data"]
    assert meta["current_version"] == final_version, meta
    assert meta["max_versions"] == 7, meta
    assert meta["custom_metadata"] == {"owner": "team-h"}, meta
    assert meta["versions"]["1"]["destroyed"] is True, meta["versions"]
    assert meta["versions"]["3"]["deletion_time"] == "", meta["versions"]

    step("kv v2 list_secrets")
    assert kv2.list_secrets("", mount_point="secret")["data"]["keys"] == ["dir/", "x"]
    assert kv2.list_secrets("dir", mount_point="secret")["data"]["keys"] == ["y"]


def init_and_write(url, state):
    c = state["canaries"]
    client = hvac.Client(url=url)

    step("uninitialised status")
    assert client.sys.is_initialized() is False
    assert client.sys.is_sealed() is True
    health = client.sys.read_health_status(method="GET")
    assert status_of(health) == 501, "GET sys/health uninitialised: %s" % status_of(health)

    step("sys.initialize(5, 3)")
    init = client.sys.initialize(5, 3)
    assert len(init["keys"]) == 5 and len(init["keys_base64"]) == 5, "expected 5 keys"
    assert init["root_token"], "no root token"
    client.token = init["root_token"]
    assert client.sys.is_initialized() is True
    err = expect_raises(exceptions.InvalidRequest, client.sys.initialize, 5, 3)
    assert "already initialized" in str(err), str(err)

    step("submit_unseal_key / submit_unseal_keys")
    status = client.sys.read_seal_status()
    assert (status["sealed"], status["t"], status["n"], status["progress"]) == (True, 3, 5, 0), status
    one = client.sys.submit_unseal_key(init["keys"][0])
    assert one["sealed"] is True and one["progress"] == 1, one
    done = client.sys.submit_unseal_keys(init["keys"][1:3])
    assert done["sealed"] is False, done
    assert client.sys.is_sealed() is False
    check_unsealed_health(client)

    step("enable_secrets_engine kv v1 and v2")
    r = client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    assert r.status_code == 204, r.status_code
    # hvac users commonly pass the version as an int; Vault coerces option values to strings.
    client.sys.enable_secrets_engine("kv", path="secret", options={"version": 2})
    client.sys.enable_secrets_engine("kv", path="scratch", description="temporary")
    mounts = client.sys.list_mounted_secrets_engines()
    assert "scratch/" in mounts["data"] and "scratch/" in mounts, "scratch/ not listed"
    assert mounts["secret/"]["options"]["version"] == "2", mounts["secret/"]

    step("kv v1 create_or_update_secret / read / list / delete")
    kv1 = client.secrets.kv.v1
    r = kv1.create_or_update_secret(
        "app/db", {"user": "app", "password": c["kv1_password_1"]}, mount_point="kv1"
    )
    assert r.status_code == 204, r.status_code
    assert kv1.read_secret("app/db", mount_point="kv1")["data"]["password"] == c["kv1_password_1"]
    # The secret exists now, so hvac takes its PUT (update) branch.
    kv1.create_or_update_secret(
        "app/db", {"user": "app", "password": c["kv1_password_2"]}, mount_point="kv1"
    )
    kv1.create_or_update_secret("app/cache", {"url": "redis://127.0.0.1"}, mount_point="kv1")
    kv1.create_or_update_secret("other", {"x": "1"}, mount_point="kv1")
    assert kv1.list_secrets("", mount_point="kv1")["data"]["keys"] == ["app/", "other"]
    r = kv1.delete_secret("other", mount_point="kv1")
    assert r.status_code == 204, r.status_code
    expect_raises(exceptions.InvalidPath, kv1.read_secret, "other", mount_point="kv1")
    expect_raises(exceptions.InvalidPath, kv1.read_secret, "never-written", mount_point="kv1")

    step("kv v2 create_or_update_secret with cas")
    kv2 = client.secrets.kv.v2
    r = kv2.create_or_update_secret("x", {"v": "one", "s": c["v2_secret_1"]}, cas=0, mount_point="secret")
    assert r["data"]["version"] == 1, r["data"]
    err = expect_raises(
        exceptions.InvalidRequest,
        kv2.create_or_update_secret,
        "x",
        {"v": "nope"},
        cas=0,
        mount_point="secret",
    )
    assert "check-and-set" in str(err), str(err)
    r = kv2.create_or_update_secret("x", {"v": "two", "s": c["v2_secret_2"]}, cas=1, mount_point="secret")
    assert r["data"]["version"] == 2, r["data"]
    kv2.create_or_update_secret("dir/y", {"y": "why"}, mount_point="secret")

    step("kv v2 read_secret_version")
    assert kv2.read_secret_version("x", version=1, mount_point="secret")["data"]["data"] == {
        "v": "one",
        "s": c["v2_secret_1"],
    }
    latest = kv2.read_secret_version("x", mount_point="secret")
    assert latest["data"]["metadata"]["version"] == 2, latest["data"]["metadata"]

    step("kv v2 patch (client-side read-modify-write with cas)")
    r = kv2.patch("x", {"p": c["v2_patched"]}, mount_point="secret")
    assert r["data"]["version"] == 3, r["data"]
    expect_raises(exceptions.InvalidPath, kv2.patch, "absent", {"a": "b"}, mount_point="secret")

    step("kv v2 delete_latest_version_of_secret / undelete_secret_versions")
    r = kv2.delete_latest_version_of_secret("x", mount_point="secret")
    assert r.status_code == 204, r.status_code
    expect_raises(exceptions.InvalidPath, kv2.read_secret_version, "x", mount_point="secret")
    r = kv2.undelete_secret_versions("x", [3], mount_point="secret")
    assert r.status_code == 204, r.status_code
    assert kv2.read_secret_version("x", mount_point="secret")["data"]["data"]["p"] == c["v2_patched"]

    step("kv v2 destroy_secret_versions")
    r = kv2.destroy_secret_versions("x", [1], mount_point="secret")
    assert r.status_code == 204, r.status_code

    step("kv v2 update_metadata (+ custom_metadata through the adapter)")
    r = kv2.update_metadata("x", max_versions=7, cas_required=False, mount_point="secret")
    assert r.status_code == 204, r.status_code
    # hvac 0.11.2 predates custom_metadata; write it the way newer hvac does.
    client.adapter.post("/v1/secret/metadata/x", json={"custom_metadata": {"owner": "team-h"}})

    step("enable_secrets_engine / disable_secrets_engine")
    r = client.sys.disable_secrets_engine("scratch")
    assert r.status_code == 204, r.status_code

    verify_data(client, c, final_version=3)
    return {
        "keys": init["keys"],
        "keys_base64": init["keys_base64"],
        "root_token": init["root_token"],
    }


def after_restart(url, state):
    c = state["canaries"]
    client = hvac.Client(url=url, token=state["root_token"])

    step("sealed after restart")
    assert client.sys.is_initialized() is True
    assert client.sys.is_sealed() is True
    status = client.sys.read_seal_status()
    assert (status["t"], status["n"], status["progress"]) == (3, 5, 0), status
    health = client.sys.read_health_status(method="GET")
    assert status_of(health) == 503, "GET sys/health sealed: %s" % status_of(health)
    err = expect_raises(exceptions.VaultDown, client.secrets.kv.v1.read_secret, "app/db", mount_point="kv1")
    assert c["kv1_password_2"] not in str(err)

    step("submit_unseal_keys with three other shares (base64)")
    done = client.sys.submit_unseal_keys(state["keys_base64"][2:5])
    assert done["sealed"] is False, done
    check_unsealed_health(client)

    verify_data(client, c, final_version=3)

    step("writes still work after the restart")
    r = client.secrets.kv.v2.patch("x", {"after": "restart"}, mount_point="secret")
    assert r["data"]["version"] == 4, r["data"]
    return {"ok": True}


PHASES = {"init-and-write": init_and_write, "after-restart": after_restart}


def main(argv):
    return run_phases(argv, PHASES, STEP, "hvac_scenario.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
