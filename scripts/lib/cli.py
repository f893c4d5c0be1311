"""How the scripts end on a failure they can explain: one `error: ...` line on stderr and exit 1, never a
traceback (argparse's own usage errors keep exit 2). Explained failures are `Failure`, the library's
StoreError and CommerceError (a setting), a `.env` that cannot be parsed, and a file the user named that
cannot be used; anything else is a bug and shows its traceback."""
from __future__ import annotations

import sys
from collections.abc import Callable

from customer_auth.errors import CommerceError
from customer_auth.store import StoreError
from emulator.environment import EnvFileError


class Failure(Exception):
    """A failure the script explains in its message (a wrong argument's consequence, a server away)."""


def run(main: Callable[[], int]) -> int:
    try:
        return main()
    except KeyboardInterrupt:
        return 130
    except CommerceError as error:  # a setting (STORE_URL, ...): its reason, not the client-facing wording
        return _fail(error.reason)
    except (Failure, StoreError, EnvFileError) as error:
        return _fail(str(error))
    except OSError as error:
        if not error.filename:  # not a file or folder the user named: a bug, or worth one
            raise
        return _fail(f"{error.strerror or error}: {error.filename}")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1
