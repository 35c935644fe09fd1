"""The real NSM: /dev/nsm inside a Nitro Enclave, driven by ioctl as the nsm-api driver does.

One ioctl, `_IOWR(0x0A, 0, struct nsm_message)`, carries a `struct nsm_message` of two
iovecs: the CBOR request (at most 4 KiB) and a response buffer (12 KiB). The driver writes
the CBOR response into the buffer and its length into the response iovec.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import threading
from collections.abc import Callable
from typing import Any

from accord.enclave.platform.errors import NsmProtocolError, NsmUnavailableError
from accord.enclave.platform.nsm import Nsm, Request, Response, decode_response, encode_request

DEVICE = "/dev/nsm"
NSM_IOCTL_MAGIC = 0x0A
NSM_REQUEST_MAX_SIZE = 0x1000
NSM_RESPONSE_MAX_SIZE = 0x3000

# Linux asm-generic/ioctl.h encoding (x86_64 and aarch64, the Nitro platforms).
_IOC_NRSHIFT, _IOC_TYPESHIFT, _IOC_SIZESHIFT, _IOC_DIRSHIFT = 0, 8, 16, 30
_IOC_WRITE, _IOC_READ = 1, 2


class IoVec(ctypes.Structure):
    """`struct iovec`."""

    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class NsmMessage(ctypes.Structure):
    """`struct nsm_message { struct iovec request; struct iovec response; }`."""

    _fields_ = [("request", IoVec), ("response", IoVec)]


def iowr(kind: int, number: int, size: int) -> int:
    """The `_IOWR(kind, number, size)` ioctl request code."""
    return (
        ((_IOC_READ | _IOC_WRITE) << _IOC_DIRSHIFT)
        | (size << _IOC_SIZESHIFT)
        | (kind << _IOC_TYPESHIFT)
        | (number << _IOC_NRSHIFT)
    )


NSM_IOCTL_REQUEST = iowr(NSM_IOCTL_MAGIC, 0, ctypes.sizeof(NsmMessage))

Ioctl = Callable[[int, int, Any, bool], Any]


class NitroNsm(Nsm):
    """The /dev/nsm backend. `ioctl` and `opener` are injectable for tests without a device."""

    def __init__(
        self,
        device: str = DEVICE,
        *,
        ioctl: Ioctl = fcntl.ioctl,
        opener: Callable[[str, int], int] = os.open,
    ) -> None:
        try:
            self._fd = opener(device, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise NsmUnavailableError(f"cannot open the NSM device {device}: {exc.strerror}") from exc
        self._device = device
        self._ioctl = ioctl
        self._lock = threading.Lock()  # one message structure in flight per descriptor

    @staticmethod
    def available(device: str = DEVICE) -> bool:
        """True when the NSM device exists (we are inside a Nitro Enclave)."""
        return os.path.exists(device)

    def process(self, request: Request) -> Response:
        raw = encode_request(request)
        if len(raw) > NSM_REQUEST_MAX_SIZE:
            raise NsmProtocolError(f"NSM request is {len(raw)} bytes; the driver accepts {NSM_REQUEST_MAX_SIZE}")
        request_buffer = ctypes.create_string_buffer(raw, len(raw))
        response_buffer = ctypes.create_string_buffer(NSM_RESPONSE_MAX_SIZE)
        message = NsmMessage(
            IoVec(ctypes.cast(request_buffer, ctypes.c_void_p), len(raw)),
            IoVec(ctypes.cast(response_buffer, ctypes.c_void_p), NSM_RESPONSE_MAX_SIZE),
        )
        with self._lock:
            try:
                self._ioctl(self._fd, NSM_IOCTL_REQUEST, message, True)
            except OSError as exc:
                raise NsmUnavailableError(f"NSM ioctl on {self._device} failed: {exc.strerror}") from exc
        length = message.response.iov_len
        if length > NSM_RESPONSE_MAX_SIZE:
            raise NsmProtocolError(f"NSM driver reported a {length}-byte response")
        return decode_response(response_buffer.raw[:length])

    def close(self) -> None:
        """Close the device descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"<NitroNsm {self._device}>"
