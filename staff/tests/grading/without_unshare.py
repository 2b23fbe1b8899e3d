"""Run a command where unshare() fails with EPERM, as Docker's default seccomp profile has it.

    python without_unshare.py COMMAND [ARGUMENT ...]

A test helper: it installs a seccomp filter that refuses the unshare system call (no
namespace of any kind, user namespaces included) and executes the command, which keeps
the filter. Linux on x86-64 and AArch64 only.
"""
import ctypes
import errno
import os
import platform
import sys

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
LOAD_WORD, JUMP_IF_EQUAL, RETURN = 0x20, 0x15, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
# (audit architecture, unshare's system call number) by machine.
ARCHITECTURES = {"x86_64": (0xC000003E, 272), "aarch64": (0xC00000B7, 97)}


class Instruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]


def refuse_unshare():
    architecture, unshare = ARCHITECTURES[platform.machine()]
    code = [
        Instruction(LOAD_WORD, 0, 0, 4),                  # the architecture
        Instruction(JUMP_IF_EQUAL, 0, 3, architecture),   # another one: allow
        Instruction(LOAD_WORD, 0, 0, 0),                  # the system call's number
        Instruction(JUMP_IF_EQUAL, 0, 1, unshare),
        Instruction(RETURN, 0, 0, ERRNO | errno.EPERM),
        Instruction(RETURN, 0, 0, ALLOW),
    ]
    instructions = (Instruction * len(code))(*code)
    program = Program(len(code), instructions)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    refuse_unshare()
    os.execvp(sys.argv[1], sys.argv[1:])
