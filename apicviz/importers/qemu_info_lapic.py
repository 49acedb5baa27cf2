"""Import the text of QEMU's HMP ``info lapic`` (one CPU's dump, or several pasted together).

The dump has looked the same since ``info lapic`` appeared (QEMU 2.7): a
header ``dumping local APIC state for CPU <index>``, the LVT lines, ``Timer``
(later versions add ``current_count``), ``SPIV 0x... APIC enabled, ...``,
``ICR``/``ICR2``, ``ESR``, ``ISR``, ``IRR``, and a closing line
``APR 0x.. TPR 0x.. DFR 0x.. LDR 0x..[(cluster c: id i)] PPR 0x..``. DFR is the
4-bit model (DFR >> 28); LDR is the logical ID (LDR >> 24) — under KVM
always, while QEMU's own x2APIC (9.0 on) prints the whole 32-bit x2APIC LDR.

It prints neither the APIC ID nor the APIC mode, so those come from the user
(``ids``, ``modes``); without them the vCPU ID is the APIC ID named in a
preceding ``(qemu) info lapic N`` prompt line, else the CPU index, and the
mode is xAPIC (x2APIC when the LDR is wider than 8 bits). Every vCPU whose
dump reads the same in both modes (an LDR of 0 — what an x2APIC vCPU shows
under KVM — or its x2APIC LDR) gets its own warning. Text captured from
QMP's ``human-monitor-command`` has CRLF line ends; a raw HMP socket session
carries the monitor's line-editing escape sequences, which are replayed
(:mod:`.terminal_text`). Every line is checked: a dump that is cut short,
mixed with other text or carries a malformed number is refused with its
line number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model.errors import ScenarioError, quote, shorten
from ..model.numbers import U32_MAX, fmt_id, parse_int
from ..model.scenario import DFR_CLUSTER, DFR_FLAT, MAX_VCPU_ID, MAX_VCPUS, Scenario, Vcpu
from .common import ImportResult, check_ids, check_vcpu_count, finish, spread
from .terminal_text import render_line

COMMAND = "qemu-info-lapic"
#: The largest `info lapic` text read (a 4096-CPU dump is about 4 MiB).
MAX_INFO_LAPIC_BYTES = 32 * 1024 * 1024
SPIV_APIC_ENABLED = 1 << 8
DFR_MODEL_FLAT = 0xF
DFR_MODEL_CLUSTER = 0x0

_HEADER = re.compile(r"dumping\s+local\s+apic\s+state\s+for\s+cpu\b\s*(.*)", re.IGNORECASE)
_PROMPT = re.compile(r"\(qemu\)\s*(.*)")
_INFO_LAPIC = re.compile(r"info\s+lapic(?:\s+(\S+))?\s*", re.IGNORECASE)
_SPIV = re.compile(r"SPIV\b\s*(\S*)(.*)")
_SPIV_STATE = re.compile(r"\bAPIC\s+(enabled|disabled)\b", re.IGNORECASE)
_APR = re.compile(r"APR\b")
_DFR = re.compile(r"\bDFR\s+([^\s(]+)")
_LDR = re.compile(r"\bLDR\s+([^\s(]+)")
#: Other lines of a dump (LVT0, Timer, ICR2, ESR, ...): known to be there, not needed.
_OTHER_REGISTER = re.compile(r"(?:LVT[A-Z0-9]*|Timer|ICR2?|ESR|ISR|IRR|[A-Z][A-Z0-9]{1,15})(?:\s|$)")
_ICR2_KIND = re.compile(r"^ICR2\b.*\((X2APIC|APIC) ID\)")
_HEX = re.compile(r"(?:0[xX])?([0-9a-fA-F]+)")
#: Control characters other than tab, newline and CR (a CR is fine at the end of a line).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_STRAY_CR = re.compile(r"\r(?!\n|\Z)")
#: The first character of a line that is not blank (blank: spaces, tabs, a CR).
_INK = re.compile(r"[^ \t\r\n]")
#: Non-blank lines read at most: a CPU's dump is about 20 lines, so this leaves room for other text.
MAX_TEXT_LINES = 200_000
_NO_APIC = ("local apic state not available", "no cpu available")


@dataclass
class LapicDump:
    """What one ``info lapic`` dump says about the map; line numbers are 1-based."""

    line: int
    cpu_index: int
    apic_id: int | None = None  # from a preceding "(qemu) info lapic N"
    spiv: int | None = None
    spiv_text: str | None = None  # "enabled" / "disabled" as printed
    spiv_line: int = 0
    dfr: int | None = None  # the 4-bit model
    ldr: int | None = None
    apr_line: int = 0
    cpuid_x2apic: bool | None = None  # the ICR2 line's "(X2APIC ID)" / "(APIC ID)": the CPU model has x2APIC
    notes: list[str] = field(default_factory=list)


def _number(token: str, what: str, where: str, hi: int) -> int:
    """A hex register value as QEMU prints it (``0x%08x``); the 0x is optional."""
    match = _HEX.fullmatch(token)
    if not match:
        raise ScenarioError(where, f"{what} value {quote(token)} is not hex")
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > 32:
        raise ScenarioError(where, f"{what} value {token[:24]!r}… is far too large; allowed 0..{hi:#x}")
    return parse_int("0x" + digits, f"{where}: {what}", 0, hi)


def _cpu_index(token: str, where: str) -> int:
    match = re.fullmatch(r"([0-9]+)\s*", token)
    if not match:
        raise ScenarioError(where, f"CPU index {quote(token.strip())} is not a decimal number")
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > 32:
        raise ScenarioError(where, f"CPU index {digits[:24]}… is far too large; allowed 0..{MAX_VCPU_ID:#x}")
    return parse_int(digits, f"{where}: CPU index", 0, MAX_VCPU_ID)


class _Parser:
    """Line-by-line state machine: outside a dump, or inside one until its APR line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.dumps: list[LapicDump] = []
        self.warnings: list[str] = []
        self.open: LapicDump | None = None
        self.pending_apic_id: int | None = None
        self.by_index: dict[int, LapicDump] = {}

    def where(self, n: int) -> str:
        return f"{self.source}: line {n}"

    def feed(self, n: int, raw: str) -> None:
        """One line (``n``: 1-based); control characters were refused for the whole text already."""
        line = raw.strip()
        header = _HEADER.match(line)
        if header:
            self._close_check(n)
            self._start(n, header.group(1))
            return
        if self.open is None:
            self._outside(n, line)
        else:
            self._inside(n, line, self.open)

    def _start(self, n: int, rest: str) -> None:
        index = _cpu_index(rest, self.where(n))
        if index in self.by_index:
            raise ScenarioError(
                self.where(n), f"a second dump for CPU {index} (the first is at line {self.by_index[index].line})"
            )
        check_vcpu_count(len(self.dumps) + 1, self.where(n))
        dump = LapicDump(line=n, cpu_index=index, apic_id=self.pending_apic_id)
        self.pending_apic_id = None
        self.by_index[index] = dump
        self.dumps.append(dump)
        self.open = dump

    def _outside(self, n: int, line: str) -> None:
        prompt = _PROMPT.match(line)
        if prompt:
            self._prompt(n, prompt.group(1))
            return
        if _SPIV.match(line) or (_APR.match(line) and _DFR.search(line)):
            raise ScenarioError(
                self.where(n),
                f"{shorten(line.split(None, 1)[0], 40)} line outside a dump: the header "
                f"'dumping local APIC state for CPU N' is missing before it",
            )
        if line.lower() in _NO_APIC:
            self.warnings.append(f"{self.where(n)}: {line!r}: a CPU without a local APIC; skipped")
            self.pending_apic_id = None

    def _prompt(self, n: int, command: str) -> None:
        self.pending_apic_id = None
        match = _INFO_LAPIC.fullmatch(command)
        if not match or match.group(1) is None:
            return
        try:
            self.pending_apic_id = parse_int(match.group(1), "", 0, MAX_VCPU_ID)
        except ScenarioError:
            self.warnings.append(
                f"{self.where(n)}: cannot read the APIC ID in {quote(command.strip())}; "
                f"the next dump gets its CPU index as vCPU ID"
            )

    def _inside(self, n: int, line: str, dump: LapicDump) -> None:
        if not line:
            return
        spiv = _SPIV.match(line)
        if spiv:
            if dump.spiv is not None:
                raise ScenarioError(self.where(n), f"a second SPIV line in the dump of CPU {dump.cpu_index}")
            dump.spiv = _number(spiv.group(1), "SPIV", self.where(n), U32_MAX)
            state = _SPIV_STATE.search(spiv.group(2))
            dump.spiv_text = state.group(1).lower() if state else None
            dump.spiv_line = n
            return
        if _APR.match(line):
            self._apr(n, line, dump)
            return
        kind = _ICR2_KIND.match(line)
        if kind:
            dump.cpuid_x2apic = kind.group(1) == "X2APIC"
        if _PROMPT.match(line) or not _OTHER_REGISTER.match(line):
            raise ScenarioError(
                self.where(n),
                f"unexpected line in the dump of CPU {dump.cpu_index} (from line {dump.line}): {quote(line)}; "
                f"the dump is cut short or mixed with other text",
            )

    def _apr(self, n: int, line: str, dump: LapicDump) -> None:
        dfr, ldr = _DFR.search(line), _LDR.search(line)
        if dfr is None or ldr is None:
            missing = "DFR" if dfr is None else "LDR"
            raise ScenarioError(self.where(n), f"no {missing} value in the APR line {quote(line)}")
        dump.dfr = _number(dfr.group(1), "DFR", self.where(n), U32_MAX)
        if dump.dfr > 0xF:
            raise ScenarioError(
                self.where(n), f"DFR {dump.dfr:#x} is wider than the 4-bit model QEMU prints (DFR >> 28)"
            )
        dump.ldr = _number(ldr.group(1), "LDR", self.where(n), U32_MAX)
        dump.apr_line = n
        if dump.spiv is None:
            raise ScenarioError(
                self.where(dump.line), f"the dump of CPU {dump.cpu_index} has no SPIV line before its APR line"
            )
        self.open = None

    def _refuse_unfinished(self, ending: str) -> None:
        """A dump still open where another starts (or the file ends) lost its last line."""
        dump = self.open
        if dump is not None:
            raise ScenarioError(
                self.where(dump.line),
                f"the dump of CPU {dump.cpu_index} ends {ending} without its 'APR … DFR … LDR …' line (truncated?)",
            )

    def _close_check(self, n: int) -> None:
        self._refuse_unfinished(f"at line {n},")

    def finish(self) -> list[LapicDump]:
        self._refuse_unfinished("with the file,")
        if not self.dumps:
            raise ScenarioError(
                self.source,
                "no 'dumping local APIC state for CPU N' header found: is this the output of QEMU's `info lapic`?",
            )
        return self.dumps


def parse_info_lapic(text: str, source_name: str) -> tuple[list[LapicDump], list[str]]:
    """The dumps in ``text``, in order, and the parser's warnings."""
    if not isinstance(text, str):
        raise ScenarioError(source_name, f"expected text, got {type(text).__name__}")
    parser = _Parser(source_name)
    text = text.removeprefix("\ufeff")
    if "\x1b" in text or "\x08" in text:  # a raw HMP socket session: replay the monitor's line editing
        text = "\n".join(render_line(line.removesuffix("\r")) for line in text.split("\n"))
    # Blank lines say nothing; skipping them at C speed keeps a file of 32 MiB of newlines cheap.
    # Control characters are looked for once, over the whole text, for the same reason.
    bad = _CONTROL.search(text) or ("\r" in text and _STRAY_CR.search(text)) or None
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise ScenarioError(
            parser.where(line),
            f"control character U+{ord(bad.group()):04X} at column {column}: "
            f"this is not the text of `info lapic` (binary data?)",
        )
    n, counted_to, fed, pos = 1, 0, 0, 0
    while (ink := _INK.search(text, pos)) is not None:
        start = text.rfind("\n", 0, ink.start()) + 1
        end = text.find("\n", ink.start())
        end = len(text) if end < 0 else end
        n += text.count("\n", counted_to, start)
        counted_to, pos = start, end + 1
        fed += 1
        if fed > MAX_TEXT_LINES:
            raise ScenarioError(
                parser.where(n),
                f"more than {MAX_TEXT_LINES:,} non-blank lines; an `info lapic` dump of {MAX_VCPUS} CPUs has "
                f"about {MAX_VCPUS * 20:,}",
            )
        raw = text[start:end]
        parser.feed(n, raw.removesuffix("\r"))
    return parser.finish(), parser.warnings


def _default_ids(dumps: list[LapicDump], source: str) -> list[int]:
    """APIC ID from the prompt line where there is one, else the CPU index; never twice the same."""
    ids: list[int] = []
    used: dict[int, LapicDump] = {}
    for dump in dumps:
        vid = dump.apic_id if dump.apic_id is not None else dump.cpu_index
        if vid in used:
            raise ScenarioError(
                f"{source}: line {dump.line}",
                f"CPU {dump.cpu_index} would get vCPU ID {fmt_id(vid)}, already taken by the dump at line "
                f"{used[vid].line}; give the IDs with --ids",
            )
        used[vid] = dump
        ids.append(vid)
    return ids


def _ambiguous(ldr: int, vid: int) -> bool:
    """Whether ``ldr`` reads the same for an xAPIC vCPU and for x2APIC vCPU ``vid`` in some QEMU."""
    derived = Vcpu(id=vid, apic="x2apic").x2apic_ldr
    return ldr <= 0xFF and ldr in (derived, derived >> 24)


def dfr_register(model: int) -> int:
    """The 32-bit DFR for a 4-bit model; bits 27:0 read as ones, as a guest write leaves them."""
    if model == DFR_MODEL_FLAT:
        return DFR_FLAT
    if model == DFR_MODEL_CLUSTER:
        return DFR_CLUSTER
    return (model << 28) | 0x0FFFFFFF


def import_info_lapic(
    text: str,
    ids: list[int] | None,
    modes: list[str] | None,
    source_name: str,
) -> ImportResult:
    """Import ``info lapic`` text; ``ids``/``modes`` are per dump in text order (one mode may serve all)."""
    dumps, warnings = parse_info_lapic(text, source_name)
    count = len(dumps)
    what = f"{count} dump{'' if count == 1 else 's'} in {source_name}"
    missing = []
    if ids is None:
        vids = _default_ids(dumps, source_name)
        missing.append("the APIC ID")
    else:
        vids = check_ids(list(ids), count, what)
    if modes is None:
        mode_list: list[str | None] = [None] * count
        missing.append("the APIC mode")
    else:
        mode_list = list(spread(list(modes), count, "--mode", what))
        for n, mode in enumerate(mode_list):
            if mode not in ("xapic", "x2apic", "disabled"):
                raise ScenarioError(f"--mode[{n}]", f"{quote(str(mode))} is not a mode; use xapic, x2apic or disabled")
    if missing:
        defaults = []
        if ids is None:
            from_prompt = any(d.apic_id is not None for d in dumps)
            defaults.append("each vCPU ID is the CPU index" + (
                " (or the APIC ID of a preceding `info lapic N`)" if from_prompt else ""
            ) + ", which need not be the APIC ID, and each xAPIC ID is that ID's low 8 bits (a guest may have "
                "rewritten it; `apicviz attach` reads it)")
        if modes is None:
            defaults.append("every vCPU is in xAPIC mode unless its LDR is wider than 8 bits")
        options = " and ".join(o for o, gone in (("--ids", ids is None), ("--mode", modes is None)) if gone)
        warnings.insert(0, (
            f"QEMU's `info lapic` does not show {' or '.join(missing)}: {'; '.join(defaults)}; "
            f"give {options} to set them"
        ))
    scenario = Scenario()
    for dump, vid, mode in zip(dumps, vids, mode_list, strict=True):
        scenario.vcpus.append(_vcpu(dump, vid, mode, source_name, warnings))
    return finish(scenario, warnings, COMMAND, source_name)


def _vcpu(dump: LapicDump, vid: int, mode: str | None, source: str, warnings: list[str]) -> Vcpu:
    """One vCPU from one dump; ``mode`` None means "not given": xAPIC unless the LDR says x2APIC."""
    assert dump.spiv is not None
    assert dump.dfr is not None
    assert dump.ldr is not None
    where = f"{source}: line {dump.line} (CPU {dump.cpu_index}, vCPU {fmt_id(vid)})"
    sw_enabled = bool(dump.spiv & SPIV_APIC_ENABLED)
    if dump.spiv_text is not None and (dump.spiv_text == "enabled") != sw_enabled:
        warnings.append(
            f"{source}: line {dump.spiv_line}: SPIV {dump.spiv:#010x} has bit 8 "
            f"{'set' if sw_enabled else 'clear'} but the text says 'APIC {dump.spiv_text}'; bit 8 is used"
        )
    if dump.ldr > 0xFF:
        if mode is None:
            mode = "x2apic"
            warnings.append(
                f"{where}: LDR {fmt_id(dump.ldr)} is wider than 8 bits, which only an x2APIC LDR is "
                f"(QEMU's own x2APIC prints all 32 bits): taken to be in x2APIC mode"
            )
        elif mode != "x2apic":
            raise ScenarioError(
                f"{source}: line {dump.apr_line}",
                f"LDR {fmt_id(dump.ldr)} is wider than the 8 bits of an xAPIC logical ID, but CPU "
                f"{dump.cpu_index} is given --mode {mode}; is it in x2APIC mode?",
            )
    if mode is None and dump.cpuid_x2apic is not False and _ambiguous(dump.ldr, vid):
        warnings.append(
            f"{where}: this dump cannot tell xAPIC from x2APIC: LDR {fmt_id(dump.ldr)} is a possible xAPIC logical "
            f"ID and also what QEMU prints for an x2APIC vCPU {fmt_id(vid)} (LDR bits 31:24 under KVM, the whole "
            f"x2APIC LDR with QEMU's own x2APIC), and the dump has no APIC base; taken as xAPIC — give --mode"
        )
    mode = mode or "xapic"
    dfr = dfr_register(dump.dfr)
    if mode == "x2apic":
        vcpu = Vcpu(id=vid, apic=mode, sw_enabled=sw_enabled, dfr=dfr)
        derived = vcpu.x2apic_ldr
        if dump.ldr not in (derived, derived >> 24):
            warnings.append(
                f"{where}: LDR {fmt_id(dump.ldr)} does not match the x2APIC LDR KVM derives from the vCPU ID, "
                f"{fmt_id(derived)} (QEMU prints all of it, or under KVM its bits 31:24, "
                f"{fmt_id(derived >> 24)}); wrong --ids? the model uses the derived value"
            )
        return vcpu
    vcpu = Vcpu(id=vid, apic=mode, sw_enabled=sw_enabled, logical_id=dump.ldr, dfr=dfr)
    if mode == "xapic" and dump.dfr not in (DFR_MODEL_FLAT, DFR_MODEL_CLUSTER):
        warnings.append(
            f"{source}: line {dump.apr_line}: DFR model {dump.dfr:#x} is neither flat (0xf) nor cluster (0x0); "
            f"stored as {dfr:#010x}, which no logical destination matches"
        )
    return vcpu


__all__ = ["LapicDump", "dfr_register", "import_info_lapic", "parse_info_lapic"]
