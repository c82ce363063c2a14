"""The runner both hvac scenario scripts share: pick a phase from argv, read the state the
earlier phases produced as JSON on stdin, print the phase's result as one JSON line, and on
failure say at which step it failed (exit 1)."""
import json
import sys
import traceback


def run_phases(argv, phases, step, script):
    """`step` is the script's one-element list naming the step in progress."""
    if len(argv) != 3 or argv[1] not in phases:
        sys.stderr.write("usage: %s {%s} URL < state.json\n" % (script, "|".join(phases)))
        return 2
    state = json.load(sys.stdin)
    try:
        result = phases[argv[1]](argv[2], state)
    except Exception as err:  # noqa: BLE001 - report any failure with the step it happened in
        sys.stderr.write("FAILED at step %r: %s: %s\n" % (step[0], type(err).__name__, err))
        traceback.print_exc(file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0
