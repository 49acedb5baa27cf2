"""Table columns, declared once: title, tooltip (which register it is), editor, parser.

The parsers are :func:`~apicviz.model.numbers.parse_int` and the model's own
choice lists, so a table cell refuses exactly what a scenario file refuses,
with the same message naming the allowed range.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...model import ScenarioError
from ...model.errors import quote, shorten
from ...model.numbers import U8_MAX, U32_MAX, describe_range, dfr_text, fmt_id, parse_int
from ...model.scenario import (
    APIC_MODES,
    ARB_PRIO_MAX,
    DELIVERIES,
    DEST_MODES,
    MAX_VCPU_ID,
    SHORTHANDS,
    VIAS,
)
from ...model.scenario_file import parse_dfr
from .pv_ipi_view import VIA_LABELS

#: Editors the delegate knows; "" marks a read-only (derived) column.
INT, CHOICE, DFR, BOOL, TEXT, SOURCE = "int", "choice", "dfr", "bool", "text", "source"
#: Characters of a text cell shown (the editor still gets all of it).
MAX_CELL_TEXT = 200
MSI_TEXT = "MSI"
_TRUE = {"1", "true", "yes", "on", "y", "checked", "enabled"}
_FALSE = {"0", "false", "no", "off", "n", "unchecked", "disabled"}


@dataclass(frozen=True)
class Column:
    """One table column: how to show, edit and explain a field."""

    key: str
    title: str
    tooltip: str
    editor: str = ""
    label: str = ""  # name used in undo text ("Set <label> of vCPU 0x3 to 0x23")
    lo: int = 0
    hi: int = 0
    hex: bool = True
    choices: tuple[str, ...] = ()
    optional: bool = False  # an empty cell means None (interrupt dest with a shorthand)
    #: Shown in the default layout; the others are one right-click on the header away.
    shown: bool = True
    #: When the table is too narrow for every column (a big zoom), columns with squeeze > 0 are hidden,
    #: lowest first; 0: never.
    squeeze: int = 0
    #: Words shown for ``choices`` (same order), when the file's codes are not what people say ("PV IPI").
    labels: tuple[str, ...] = ()

    @property
    def editable(self) -> bool:
        return bool(self.editor)

    @property
    def name(self) -> str:
        return self.label or self.title

    def show(self, value: Any) -> str:
        """Display text; IDs in hex as the kernel and QEMU print them."""
        if self.editor == SOURCE:
            return MSI_TEXT if value is None else fmt_id(value)
        if value is None:
            return "—"
        if self.editor == INT:
            return fmt_id(value) if self.hex else str(value)
        if self.editor == DFR:
            return dfr_text(value)
        if self.editor == BOOL:
            return "yes" if value else "no"
        if self.editor == CHOICE and self.labels and value in self.choices:
            return self.labels[self.choices.index(value)]
        return shorten(str(value), MAX_CELL_TEXT)  # a 1M-character name would stall the table's layout

    def range_text(self) -> str:
        if self.editor in (INT, SOURCE):
            return describe_range(self.lo, self.hi)
        if self.editor == CHOICE:
            return ", ".join(self.labels or self.choices)
        if self.editor == DFR:
            return "flat, cluster, or a 32-bit value 0..0xffffffff"
        if self.editor == BOOL:
            return "yes or no"
        return "any text"

    def parse(self, value: Any, where: str) -> Any:
        """Cell input (text, int, bool or check state) -> field value, or ScenarioError."""
        try:
            return self._parse(value, where)
        except ScenarioError as exc:
            if exc.names_allowed:
                raise
            raise ScenarioError(where, f"{exc.message}; allowed {self.range_text()}") from None

    def _parse(self, value: Any, where: str) -> Any:
        text = value.strip() if isinstance(value, str) else value
        if self.editor == TEXT:
            return "" if value is None else str(value)
        if self.editor == BOOL:
            return parse_bool(value, where)
        if self.editor == CHOICE:
            choice = str(text).lower()
            by_label = ({label.lower(): code for label, code in zip(self.labels, self.choices, strict=True)}
                        if self.labels else {})
            choice = by_label.get(choice, choice)
            if choice not in self.choices:
                raise ScenarioError(where, f"{quote(str(value))} is not allowed; use one of {self.range_text()}",
                                    names_allowed=True)
            return choice
        if self.editor == DFR:
            return parse_dfr(text, where)
        if self.editor == SOURCE and (text in ("", None) or str(text).lower() in ("msi", "none", "null", "-", "—")):
            return None
        if self.optional and text in ("", "-", "—", None):
            return None
        return parse_int(text, where, self.lo, self.hi)


def parse_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):  # the table model turns a Qt check state into a bool first
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ScenarioError(where, f"{quote(str(value))} is not a yes/no value; allowed yes or no (true/false, 1/0)",
                        names_allowed=True)


VCPU_COLUMNS: tuple[Column, ...] = (
    Column("id", "vCPU ID", "vCPU ID given to KVM_CREATE_VCPU; KVM's x2APIC ID is always this value.\n"
           "Unique, 0..0xfffffffe. Rows are in creation order (vcpu_idx), which decides who wins a map slot.",
           INT, "vCPU ID", 0, MAX_VCPU_ID),
    Column("apic", "Mode", "APIC mode from IA32_APIC_BASE: xapic, x2apic (EXTD set), or disabled\n"
           "(EN clear: hardware-disabled, in no map, receives and sends nothing).",
           CHOICE, "APIC mode", choices=APIC_MODES),
    Column("xapic_id", "xAPIC ID", "APIC_ID register bits 31:24, guest-writable; KVM resets it to vcpu_id & 0xff.\n"
           "Ignored in x2APIC mode. 0..0xff.", INT, "xAPIC ID", 0, U8_MAX),
    Column("logical_id", "Logical ID", "APIC_LDR bits 31:24: the xAPIC logical ID (8 bits, guest-writable).\n"
           "Flat: one bit per CPU. Cluster: high nibble = cluster, low nibble = CPU bits.\n"
           "x2APIC mode: the LDR KVM derives from the x2APIC ID, ((id >> 4) << 16) | 1 << (id & 0xf),\n"
           "shown grey and read-only.",
           INT, "logical ID", 0, U8_MAX),
    Column("dfr", "DFR", "APIC_DFR, the destination format register: flat (0xffffffff), cluster (0x0fffffff),\n"
           "or any raw 32-bit value (only exactly 0xffffffff is flat; others match nothing). Ignored in x2APIC mode.",
           DFR, "DFR"),
    Column("sw_enabled", "SW on", "APIC_SPIV bit 8: software enable. A software-disabled APIC discards fixed and\n"
           "lowest-priority messages (SMI, NMI, INIT, SIPI still get through); from 5.3 it is left out of the "
           "logical map.", BOOL, "software enable"),
    Column("arb_prio", "arb_prio", "KVM's apic_arb_prio counter: picks the lowest-priority target when the\n"
           "kvm.vector_hashing module parameter is off. 0..0x7fffffff (decimal or hex).",
           INT, "arb_prio", 0, ARB_PRIO_MAX, hex=False, shown=False),
    Column("phys", "Phys ID", "Effective physical APIC ID (read-only): the xAPIC ID in xAPIC mode,\n"
           "the x2APIC ID (= vCPU ID) in x2APIC mode; none when hardware-disabled.", shown=False),
    Column("ldr", "x2APIC LDR", "x2APIC logical destination register (read-only), derived by KVM from the x2APIC ID:\n"
           "((id >> 4) << 16) | 1 << (id & 0xf). Used only in x2APIC mode (the Logical ID column shows it too).",
           shown=False),
    Column("status", "Status", "What KVM's optimized map makes of this vCPU:\n"
           "aliased — another present vCPU answers to the same physical ID;\n"
           "hotplug only — reached only through the x2APIC-ID slot given to an xAPIC vCPU (the hotplug hack);\n"
           "unreachable — in no phys_map slot: the fast path never finds it by physical ID;\n"
           "lost logical slot — a later vCPU overwrote its flat/cluster slot (before 6.3 the last writer wins);\n"
           "hw disabled — APIC hardware-disabled (in no map, receives nothing)."),
)

INTERRUPT_COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", "Your label for this message.", TEXT, "name"),
    Column("source", "Source", "vCPU ID of the sender (it writes its ICR: an IPI), or MSI for a device or\n"
           "I/O APIC message. The sender must be a present vCPU.", SOURCE, "source", 0, MAX_VCPU_ID),
    Column("dest_mode", "Mode", "Destination mode (ICR bit 11 / MSI address bit 2): physical (an APIC ID)\n"
           "or logical (matched against each APIC's LDR).", CHOICE, "destination mode", choices=DEST_MODES),
    Column("dest", "Dest", "Destination field: 8 bits from an xAPIC-mode sender (ICR bits 63:56), 32 bits from an\n"
           "x2APIC sender or an MSI. 0xff (xAPIC) and 0xffffffff are broadcasts. Empty when a shorthand is used.",
           INT, "destination", 0, U32_MAX, optional=True),
    Column("shorthand", "Shorthand", "ICR destination shorthand: none, self, all (including self), all-but-self.\n"
           "Needs a source vCPU.", CHOICE, "shorthand", choices=SHORTHANDS, squeeze=2),
    Column("delivery", "Delivery", "Delivery mode: fixed, lowest (lowest priority), smi, nmi, init, sipi.",
           CHOICE, "delivery mode", choices=DELIVERIES),
    Column("vector", "Vector", "Interrupt vector, 0..255 (decimal or hex).", INT, "vector", 0, U8_MAX, hex=False,
           squeeze=1),
    Column("via", "Via", "How the source vCPU sends it: ICR (it writes its ICR, an ordinary IPI) or PV IPI\n"
           "(the KVM_HC_SEND_IPI hypercall Linux guests use; KVM serves it from the optimized map alone).\n"
           "A PV IPI needs a source vCPU, physical mode, no shorthand and fixed or NMI delivery;\n"
           "its destination is one APIC ID, 32 bits from either mode.",
           CHOICE, "Via", choices=VIAS, labels=VIA_LABELS, squeeze=3),
    Column("path", "Path", "fast: KVM's optimized map decided; slow: KVM checked every vCPU with\n"
           "kvm_apic_match_dest() (no map, or the map could not say);\n"
           "PV IPI: the hypercall's result — delivered, no map (-EOPNOTSUPP: lost), above max_apic_id,\n"
           "or unsupported (before 4.19)."),
    Column("targets", "Targets", "vCPUs KVM delivers to (kvm_apic_set_irq), by vCPU ID."),
    Column("host", "Host",
           "What a real kernel did with this message (KVM > Check on this host, or Check on another kernel…):\n"
           "✓ the vCPUs it accepted, as the model predicts for that kernel and its configuration;\n"
           "✓ … (scenario: …) — as predicted for that kernel, but the scenario's own settings (its kernel, SMM,\n"
           "vector hashing), which the rest of the window shows, give another answer;\n"
           "≠ the kernel contradicts the model (please report it); – not expressible on a real kernel (hover: why).\n"
           "Shown while a check is on.", shown=False),
    Column("dropped", "Dropped", "vCPUs the architecture says should get the message but KVM does not deliver to."),
    Column("extra", "Extra", "vCPUs KVM delivers to that real hardware would not."),
    Column("severity", "Class", "How bad the disagreement is (docs/KVM-BEHAVIOUR.md section 10):\n"
           "KVM inconsistent (red) — the optimized map disagrees with KVM's own slow path;\n"
           "differs from hardware (orange) — KVM differs from the architecture, no documented reason;\n"
           "by design (amber) — a documented KVM choice: hotplug hack, no 8-bit truncation, broadcast quirk;\n"
           "agree — KVM, its slow path and hardware give the same answer."),
    Column("under_b", "Under kernel B",
           "The same message under the kernel (or flags) chosen in the Compare kernels tab:\n"
           "its path, targets and dropped vCPUs there; ≠ marks a route that changes. Empty while that tab is closed."),
)


def column_index(columns: tuple[Column, ...], key: str) -> int:
    for i, c in enumerate(columns):
        if c.key == key:
            return i
    raise KeyError(key)


#: IDs a table cell lists before it counts the rest; a tooltip has room for more.
CELL_IDS = 8
TIP_IDS = 32
