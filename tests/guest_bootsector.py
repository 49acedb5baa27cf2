"""A 512-byte boot-sector guest, assembled by hand, that programs every vCPU's local APIC.

SeaBIOS loads the sector at 0x7C00. The BSP copies it to 0x8000 (a 4 KB
boundary, so it is also the SIPI start address, vector 0x08), and every CPU
— the BSP, then each AP woken by INIT-SIPI-SIPI to all-but-self — switches to
32-bit protected mode with flat segments, looks itself up in a table by its
initial APIC ID (CPUID.1:EBX[31:24]) and writes, in this order: DFR, LDR,
SPIV, optionally a new xAPIC ID, optionally IA32_APIC_BASE.EXTD (x2APIC; KVM
only — QEMU 7.2's TCG has no x2APIC). It then counts itself done with a
``lock inc`` at :data:`DONE_ADDR` and halts with interrupts off.

Instruction bytes are written out below with their mnemonics; no assembler
is needed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

LOAD = 0x8000  # where the sector runs (the BSP copies it here from 0x7C00)
TABLE_OFFSET = 0x110
ENTRY_SIZE = 20
MAX_ENTRIES = 11  # initial APIC IDs 0..10
DONE_OFFSET = 0x1F8
DONE_ADDR = LOAD + DONE_OFFSET
APIC = 0xFEE00000
KEEP = 0xFFFFFFFF
SIPI_DELAY = 0x8000  # loop iterations between INIT and each SIPI; KVM on a nested host is slow here


@dataclass(frozen=True)
class ApicSetup:
    """What one CPU writes into its own local APIC."""

    dfr: int = 0xFFFFFFFF
    ldr: int = 0  # the 8-bit logical ID (written to LDR bits 31:24)
    spiv: int = 0x1FF
    new_xapic_id: int | None = None
    x2apic: bool = False


def _d(value: int) -> bytes:
    return struct.pack("<I", value & 0xFFFFFFFF)


def _w(value: int) -> bytes:
    return struct.pack("<H", value & 0xFFFF)


def _mov_apic_imm(reg: int, value: int) -> bytes:
    return b"\xC7\x05" + _d(APIC + reg) + _d(value)  # mov dword [APIC+reg], imm32


def _delay() -> bytes:
    return b"\xB9" + _d(SIPI_DELAY) + b"\xE2\xFE"  # mov ecx, N ; loop $


def build_bootsector(setups: dict[int, ApicSetup]) -> bytes:
    """The sector; ``setups`` maps initial APIC ID -> what that CPU programs (others: DFR flat, LDR 0, SPIV 0x1ff)."""
    if any(not 0 <= k < MAX_ENTRIES for k in setups):
        raise ValueError(f"initial APIC IDs 0..{MAX_ENTRIES - 1} only")
    # --- 16-bit real mode -------------------------------------------------------------------------------
    real = bytearray()
    real += b"\xFA"                          # cli
    real += b"\x8C\xC8"                      # mov ax, cs
    real += b"\x3D" + _w(0x0800)             # cmp ax, 0x0800   (an AP started by our SIPI)
    je_at = len(real)
    real += b"\x74\x00"                      # je common (patched)
    real += b"\x31\xC0"                      # xor ax, ax
    real += b"\x8E\xD8"                      # mov ds, ax
    real += b"\x8E\xC0"                      # mov es, ax
    real += b"\xBE" + _w(0x7C00)             # mov si, 0x7c00
    real += b"\xBF" + _w(LOAD)               # mov di, 0x8000
    real += b"\xB9" + _w(256)                # mov cx, 256
    real += b"\xFC"                          # cld
    real += b"\xF3\xA5"                      # rep movsw
    far_at = len(real)
    real += b"\xEA\x00\x00" + _w(LOAD >> 4)  # jmp 0x0800:common (offset patched)
    common = len(real)
    real[je_at + 1] = common - (je_at + 2)
    real[far_at + 1:far_at + 3] = _w(common)
    real += b"\x31\xC0"                      # xor ax, ax
    real += b"\x8E\xD8"                      # mov ds, ax
    lgdt_at = len(real)
    real += b"\x0F\x01\x16\x00\x00"          # lgdt [gdtr] (address patched)
    real += b"\x0F\x20\xC0"                  # mov eax, cr0
    real += b"\x0C\x01"                      # or al, 1
    real += b"\x0F\x22\xC0"                  # mov cr0, eax
    ljmp_at = len(real)
    real += b"\x66\xEA" + _d(0) + _w(0x08)   # jmp dword 0x08:pm32 (offset patched)
    # --- 32-bit protected mode ----------------------------------------------------------------------------
    pm32 = len(real)
    code = bytearray(real)
    code[ljmp_at + 2:ljmp_at + 6] = _d(LOAD + pm32)
    code += b"\x66\xB8\x10\x00"              # mov ax, 0x10
    code += b"\x8E\xD8\x8E\xC0\x8E\xD0"      # mov ds, ax ; mov es, ax ; mov ss, ax
    code += b"\xB8" + _d(1) + b"\x0F\xA2"    # mov eax, 1 ; cpuid
    code += b"\xC1\xEB\x18"                  # shr ebx, 24        (initial APIC ID)
    code += b"\xB9" + _d(0x1B) + b"\x0F\x32"  # mov ecx, IA32_APIC_BASE ; rdmsr
    code += b"\xF6\xC4\x01"                  # test ah, 1         (BSP flag, bit 8)
    bsp = _mov_apic_imm(0x310, 0) + _mov_apic_imm(0x300, 0x000C4500) + _delay()  # INIT to all-but-self
    bsp += (_mov_apic_imm(0x300, 0x000C4600 | (LOAD >> 12)) + _delay()) * 2       # SIPI x2, vector 0x08
    code += b"\x74" + bytes([len(bsp)])      # jz program (an AP skips the wake-up)
    code += bsp
    code += b"\x6B\xF3" + bytes([ENTRY_SIZE])  # imul esi, ebx, 20
    code += b"\x81\xC6" + _d(LOAD + TABLE_OFFSET)  # add esi, table
    code += b"\x8B\x06" + b"\xA3" + _d(APIC + 0xE0)      # mov eax, [esi] ; mov [DFR], eax
    code += b"\x8B\x46\x04" + b"\xA3" + _d(APIC + 0xD0)  # mov eax, [esi+4] ; mov [LDR], eax
    code += b"\x8B\x46\x08" + b"\xA3" + _d(APIC + 0xF0)  # mov eax, [esi+8] ; mov [SPIV], eax
    code += b"\x8B\x46\x0C"                  # mov eax, [esi+12]
    code += b"\x83\xF8\xFF\x74\x05"          # cmp eax, -1 ; je +5
    code += b"\xA3" + _d(APIC + 0x20)        # mov [APIC_ID], eax
    code += b"\x8B\x46\x10"                  # mov eax, [esi+16]
    code += b"\x85\xC0\x74\x0E"              # test eax, eax ; jz +14
    code += b"\xB9" + _d(0x1B) + b"\x0F\x32"  # mov ecx, IA32_APIC_BASE ; rdmsr
    code += b"\x0D" + _d(0x400) + b"\x0F\x30"  # or eax, EXTD ; wrmsr
    code += b"\xF0\xFF\x05" + _d(DONE_ADDR)  # lock inc dword [done]
    code += b"\xFA\xF4\xEB\xFC"              # halt: cli ; hlt ; jmp halt
    gdt = len(code) + (-len(code)) % 8
    code += b"\x00" * (gdt - len(code))
    code += bytes(8) + bytes.fromhex("FFFF0000009ACF00") + bytes.fromhex("FFFF00000092CF00")
    gdtr = len(code)
    code += _w(23) + _d(LOAD + gdt)
    code[lgdt_at + 3:lgdt_at + 5] = _w(LOAD + gdtr)
    if len(code) > TABLE_OFFSET:
        raise AssertionError(f"code is {len(code)} bytes, overlapping the table at {TABLE_OFFSET:#x}")
    sector = bytearray(512)
    sector[:len(code)] = code
    for apic_id in range(MAX_ENTRIES):
        s = setups.get(apic_id, ApicSetup())
        entry = _d(s.dfr) + _d(s.ldr << 24) + _d(s.spiv) + \
            _d(KEEP if s.new_xapic_id is None else s.new_xapic_id << 24) + _d(1 if s.x2apic else 0)
        at = TABLE_OFFSET + apic_id * ENTRY_SIZE
        sector[at:at + ENTRY_SIZE] = entry
    assert TABLE_OFFSET + MAX_ENTRIES * ENTRY_SIZE <= DONE_OFFSET
    sector[510:512] = b"\x55\xAA"
    return bytes(sector)
