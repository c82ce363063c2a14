# The hvac 0.11.2 (Debian python3-hvac) side of test/e2e/clients-audit-wrap.test.ts: a file
# audit device and response wrapping through an unmodified hvac client, one phase at a time.
#
# Usage: /usr/bin/python3 hvac_audit_wrap_scenario.py PHASE URL   (the state as JSON on stdin)
#   The state holds "root_token", "canary" (a secret value), "audit_file" (absolute path),
#   "device" (the audit device's path) and whatever earlier phases returned. Each phase prints
#   one JSON object on stdout: the entries it adds to the state. The vitest side reads the
#   audit file itself.
# Exits 0 on success; on a failed check prints the step and the reason on stderr, exits 1.
import re
import sys

import hvac
from hvac import exceptions

from hvac_phase import run_phases

STEP = ["start"]
SECRET_PATH = "hvac/audit"
HASH_FORMAT = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")
INVALID_WRAP = "wrapping token is not valid or does not exist"


def step(name):
    STEP[0] = name


def root_client(url, state):
    return hvac.Client(url=url, token=state["root_token"])


def expect_raises(exc_type, fn, *args, **kwargs):
    """Calls fn and returns the exception it must raise (an instance of exc_type)."""
    try:
        result = fn(*args, **kwargs)
    except exc_type as err:
        return err
    raise AssertionError(
        "expected %s, got a result of type %s" % (exc_type.__name__, type(result).__name__)
    )


def audit_phase(url, state):
    root = root_client(url, state)
    device, audit_file, canary = state["device"], state["audit_file"], state["canary"]

    step("sys.enable_audit_device(file, file_path)")
    r = root.sys.enable_audit_device(
        device_type="file",
        description="hvac e2e",
        options={"file_path": audit_file},
        path=device,
    )
    assert r.status_code == 204, r.status_code

    step("sys.list_enabled_audit_devices")
    listed = root.sys.list_enabled_audit_devices()
    entry = listed["data"][device + "/"]
    assert entry["type"] == "file", entry
    assert entry["description"] == "hvac e2e", entry
    assert entry["path"] == device + "/", entry
    assert entry["options"]["file_path"] == audit_file, entry["options"]
    assert listed[device + "/"] == entry, "sys/audit map not copied to the top level"

    step("sys.calculate_hash")
    hashed = root.sys.calculate_hash(path=device, input_to_hash=canary)
    digest = hashed["data"]["hash"]
    assert HASH_FORMAT.match(digest), "hash has the wrong format"
    assert hashed["hash"] == digest, "hash not copied to the top level"
    again = root.sys.calculate_hash(path=device, input_to_hash=canary)["data"]["hash"]
    assert again == digest, "the hash is not stable"

    step("calculate_hash on an unknown device raises InvalidRequest")
    err = expect_raises(
        exceptions.InvalidRequest, root.sys.calculate_hash, path="no-such-device", input_to_hash="x"
    )
    assert "unknown audit backend" in str(err), str(err)

    step("KV v2 write and read of the canary")
    kv2 = root.secrets.kv.v2
    written = kv2.create_or_update_secret(SECRET_PATH, {"value": canary}, mount_point="secret")
    assert written["data"]["version"] == 1, written["data"]
    read = kv2.read_secret_version(SECRET_PATH, mount_point="secret")
    assert read["data"]["data"] == {"value": canary}, "the secret read back differs"
    return {"canary_hash": digest}


def wrap_phase(url, state):
    root = root_client(url, state)

    step("adapter.get(secret/data/..., wrap_ttl='60s')")
    wrapped = root.adapter.get("/v1/secret/data/" + SECRET_PATH, wrap_ttl="60s")
    assert wrapped["data"] is None, "a wrapped response carries data"
    info = wrapped["wrap_info"]
    assert info["ttl"] == 60, info["ttl"]
    assert info["creation_path"] == "secret/data/" + SECRET_PATH, info["creation_path"]
    token = info["token"]
    assert token and token != state["root_token"], "no wrapping token"
    assert state["canary"] not in str(wrapped), "the wrapped response leaks the canary"

    step("sys.unwrap(token) returns the original read")
    unwrapped = root.sys.unwrap(token)
    assert unwrapped["data"]["data"] == {"value": state["canary"]}, "unwrapped data differs"
    assert unwrapped["data"]["metadata"]["version"] == 1, unwrapped["data"]["metadata"]

    step("a second sys.unwrap(token) raises InvalidRequest")
    err = expect_raises(exceptions.InvalidRequest, root.sys.unwrap, token)
    assert INVALID_WRAP in str(err), str(err)
    return {"wrap_token": token}


def disable_phase(url, state):
    root = root_client(url, state)
    device = state["device"]
    step("sys.disable_audit_device")
    r = root.sys.disable_audit_device(device)
    assert r.status_code == 204, r.status_code
    listed = root.sys.list_enabled_audit_devices()
    assert device + "/" not in listed["data"], listed["data"]
    return {}


def after_disable_phase(url, state):
    step("a read after the device was disabled")
    read = root_client(url, state).secrets.kv.v2.read_secret_version(
        SECRET_PATH, mount_point="secret"
    )
    assert read["data"]["data"] == {"value": state["canary"]}, "the secret read back differs"
    return {}


PHASES = {
    "audit": audit_phase,
    "wrap": wrap_phase,
    "disable": disable_phase,
    "after-disable": after_disable_phase,
}


def main(argv):
    return run_phases(argv, PHASES, STEP, "hvac_audit_wrap_scenario.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
