"""What can go wrong for an operator, each with its own exit code (sysexits.h where one fits), and
the translation of gRPC errors into them, naming the service and the field at fault."""

import grpc

EXIT_OK = 0
# The command ran but found something wrong: verify's differences.
EXIT_NOT_CLEAN = 1
EXIT_USAGE = 2  # argparse's own
EXIT_DATA = 65  # EX_DATAERR: bad input file, bad header, a request the service refused
EXIT_NO_INPUT = 66  # EX_NOINPUT: the input file does not exist or cannot be read
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: a service or the database cannot be reached
EXIT_SOFTWARE = 70  # EX_SOFTWARE: an internal error of a service
EXIT_CANT_CREATE = 73  # EX_CANTCREAT: an output file cannot be written
EXIT_INTERRUPTED = 130  # as a shell reports SIGINT; the checkpoint lets the same command resume

_DATA_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
_UNAVAILABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class AdminError(Exception):
    """An error to show the operator as one line, with the exit code that goes with it."""

    def __init__(self, message: str, *, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def usage(message: str) -> AdminError:
    return AdminError(message, exit_code=EXIT_USAGE)


def data(message: str) -> AdminError:
    return AdminError(message, exit_code=EXIT_DATA)


def unavailable(service: str, address: str, detail: str = "") -> AdminError:
    variable = f"LOYALTY_ADMIN_{service.upper()}_ADDRESS"
    suffix = f": {detail}" if detail else ""
    return AdminError(
        f"cannot reach {service} at {address}{suffix} "
        f"(is it running? set --{service} or {variable})",
        exit_code=EXIT_UNAVAILABLE,
    )


def from_rpc(service: str, address: str, error: grpc.aio.AioRpcError) -> AdminError:
    """The service's own words (they name the field), prefixed with who said them."""
    code = error.code()
    detail = error.details() or ""
    if code in _UNAVAILABLE_CODES and _not_connected(detail):
        return unavailable(service, address, detail or code.name)
    if code in _UNAVAILABLE_CODES:
        # The service answered: it is up, but what it needs (the ledger, the database) was not.
        return AdminError(
            f"{service}: {code.name}: {detail} (a passing fault: the same command again goes on)",
            exit_code=EXIT_UNAVAILABLE,
        )
    exit_code = EXIT_DATA if code in _DATA_CODES else EXIT_SOFTWARE
    return AdminError(f"{service}: {code.name}: {error.details()}", exit_code=exit_code)


def _not_connected(detail: str) -> bool:
    """Whether gRPC itself failed to reach the service (its own words), rather than the service
    answering that something behind it is unavailable."""
    lowered = detail.lower()
    return not detail or any(
        words in lowered
        for words in ("failed to connect", "connection refused", "socket closed", "connect failed")
    )
