"""What KVM's map made of each vCPU, as status codes with fields (FORMAT.md "vcpu_status").

The table's Status column, ``apicviz eval`` and the bug report all read the
same codes; only the words and colours differ per output. Codes:

* ``hw_disabled`` — the APIC is hardware-disabled: in no map, receives nothing.
* ``no_map`` — the map is NULL: KVM finds every vCPU with the slow path.
* ``physical_alias`` — another present vCPU answers to the same physical
  APIC ID (``apic_id``, ``vcpus``: all sharers in creation order).
* ``physical_slot_lost`` — the vCPU wanted ``phys_map[apic_id]`` and
  ``winner`` holds it.
* ``unreachable`` — in no ``phys_map`` slot: the fast path never finds it by
  physical ID.
* ``hotplug_only`` — reached only through ``phys_map[apic_id]``, its x2APIC ID
  (the hotplug hack), not by its xAPIC ID.
* ``logical_alias`` — its xAPIC logical ID overlaps another vCPU's in the same
  cluster (``logical_id``: the one-bit ID they share, ``vcpus``).
* ``logical_slot_lost`` — it was written into the flat/cluster table, but a
  later vCPU (``winner``) overwrote the slot (``cluster``: null in flat mode,
  ``bit``); before 6.3 the last writer wins.
* ``logical_partial`` — its logical ID ``logical_id`` has several bits; only
  the lowest (``cluster``, ``bit``) is in the table.
* ``sw_disabled`` — software-disabled: discards fixed and lowest-priority
  messages (``in_logical_map``: still owns a logical slot, 4.11-5.2).
* ``xapic_id_modified`` — xAPIC ID ``xapic_id`` differs from the vCPU ID's
  low byte ``expected`` (what makes 6.3+ set ``apic_id_modified``).
* ``ldr_wrapped`` — a vCPU ID of 2^20 or more: its derived x2APIC LDR ``ldr``
  wraps (section 8.14); ``apic_id`` is the ``phys_map`` slot it overwrote, or
  null.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .analysis import Evaluation
from .apic_map import SLOT_DIRECT, SLOT_HOTPLUG, SLOT_LOGICAL
from .numbers import fmt_id

HW_DISABLED = "hw_disabled"
NO_MAP = "no_map"
PHYSICAL_ALIAS = "physical_alias"
PHYSICAL_SLOT_LOST = "physical_slot_lost"
UNREACHABLE = "unreachable"
HOTPLUG_ONLY = "hotplug_only"
LOGICAL_ALIAS = "logical_alias"
LOGICAL_SLOT_LOST = "logical_slot_lost"
LOGICAL_PARTIAL = "logical_partial"
SW_DISABLED = "sw_disabled"
XAPIC_ID_MODIFIED = "xapic_id_modified"
LDR_WRAPPED = "ldr_wrapped"

#: Fields that name vCPUs (by id in JSON, by index inside the program).
VCPU_FIELDS = ("winner", "vcpus")


@dataclass(frozen=True)
class Status:
    """One status code of a vCPU; vCPUs in ``fields`` are indexes (``winner``, ``vcpus``)."""

    code: str
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.fields.get(key)

    def to_json(self, ids: list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code}
        for key, value in self.fields.items():
            if key == "winner":
                out[key] = ids[value]
            elif key == "vcpus":
                out[key] = [ids[i] for i in value]
            else:
                out[key] = value
        return out


@dataclass
class VcpuStatus:
    """Status codes and ``phys_map`` slots of every vCPU, worked out once per evaluation on demand."""

    ev: Evaluation
    _slots: dict[int, list[int]] = field(default_factory=dict)
    _aliases: dict[int, list[tuple[int, list[int]]]] = field(default_factory=dict)
    _logical_aliases: dict[int, list[tuple[int, list[int]]]] = field(default_factory=dict)
    _lost: dict[int, list[int]] = field(default_factory=dict)
    _cache: dict[int, tuple[Status, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # One pass over the map and the alias tables: each vCPU's status then costs its own entries.
        res = self.ev.result
        if res.map is not None:
            for slot, idx in sorted(res.map.phys_map.items()):
                self._slots.setdefault(idx, []).append(slot)
        for pid, members in sorted(self.ev.aliases_physical.items()):
            for idx in members:
                self._aliases.setdefault(idx, []).append((pid, members))
        for lid, members in self.ev.aliases_logical.items():
            for idx in members:
                self._logical_aliases.setdefault(idx, []).append((lid, members))
        for slot, losers in sorted(res.phys_losers.items()):
            for idx in losers:
                self._lost.setdefault(idx, []).append(slot)

    def slots(self, idx: int) -> list[tuple[int, str]]:
        """``phys_map`` slots holding vCPU ``idx`` and why (``direct``/``hotplug``/``logical``)."""
        amap = self.ev.result.map
        if amap is None:
            return []
        return [(s, amap.slot_kind.get(s, SLOT_DIRECT)) for s in self._slots.get(idx, [])]

    def of(self, idx: int) -> tuple[Status, ...]:
        """The status codes of vCPU ``idx`` (empty: nothing to report)."""
        found = self._cache.get(idx)
        if found is None:
            found = self._cache[idx] = tuple(self._compute(idx))
        return found

    def _compute(self, idx: int) -> list[Status]:
        ev = self.ev
        v = ev.scenario.vcpus[idx]
        if not v.present:
            return [Status(HW_DISABLED)]
        out: list[Status] = []
        for pid, members in self._aliases.get(idx, []):
            out.append(Status(PHYSICAL_ALIAS, {"apic_id": pid, "vcpus": list(members)}))
        res = ev.result
        amap = res.map
        if amap is None:
            out.append(Status(NO_MAP))
        else:
            for slot in self._lost.get(idx, []):
                winner = amap.phys_map.get(slot)
                if winner is not None and winner != idx:
                    out.append(Status(PHYSICAL_SLOT_LOST, {"apic_id": slot, "winner": winner}))
            kinds = [kind for _slot, kind in self.slots(idx)]
            if not kinds:
                out.append(Status(UNREACHABLE))
            elif SLOT_DIRECT not in kinds and SLOT_HOTPLUG in kinds:
                out.append(Status(HOTPLUG_ONLY, {"apic_id": v.id}))
        for lid, members in self._logical_aliases.get(idx, []):
            out.append(Status(LOGICAL_ALIAS, {"logical_id": lid, "vcpus": list(members)}))
        entry = res.logical_entries.get(idx)
        in_logical = False
        if amap is not None and entry is not None and amap.logical_mode in ("flat", "cluster"):
            slot, mask = entry
            where = _slot_fields(amap.logical_mode, slot)
            holder = amap.logical_slots[slot]
            if holder != idx and holder is not None:
                out.append(Status(LOGICAL_SLOT_LOST, {"logical_id": v.logical_id, **where, "winner": holder}))
            else:
                in_logical = True
            if mask & (mask - 1):
                out.append(Status(LOGICAL_PARTIAL, {"logical_id": v.logical_id, **where}))
        if not v.sw_enabled:
            out.append(Status(SW_DISABLED, {"in_logical_map": in_logical}))
        if not v.x2apic_mode and v.xapic_id != v.id & 0xFF:
            out.append(Status(XAPIC_ID_MODIFIED, {"xapic_id": v.xapic_id, "expected": v.id & 0xFF}))
        if v.x2apic_mode and v.id >= 1 << 20:
            wrapped = [s for s, kind in self.slots(idx) if kind == SLOT_LOGICAL]
            out.append(Status(LDR_WRAPPED, {"ldr": v.x2apic_ldr, "apic_id": wrapped[0] if wrapped else None}))
        return out

    def to_json(self) -> list[dict[str, Any]]:
        """FORMAT.md ``vcpu_status``: per vCPU in creation order, its id, status codes and phys_map slots."""
        ids = [v.id for v in self.ev.scenario.vcpus]
        return [{"id": ids[i], "status": [s.to_json(ids) for s in self.of(i)],
                 "phys_map_slots": [slot for slot, _kind in self.slots(i)]}
                for i in range(len(ids))]


def _slot_fields(mode: str, slot: int) -> dict[str, Any]:
    """Where a slot of the shared flat/cluster table is, in the mode's own terms."""
    if mode == "flat":
        return {"cluster": None, "bit": slot}
    return {"cluster": slot // 4, "bit": slot % 4}


def describe(status: Status, ev: Evaluation) -> str:
    """The status in words (readable output, reports, the table's tooltip)."""
    vcpus = ev.scenario.vcpus
    f = status.fields

    def who(idx: int) -> str:
        return vcpus[idx].label()

    def where() -> str:
        return f"bit {f['bit']}" if f.get("cluster") is None else f"cluster {f['cluster']} bit {f['bit']}"

    code = status.code
    if code == HW_DISABLED:
        return "APIC hardware-disabled (IA32_APIC_BASE.EN clear): in no map, receives nothing"
    if code == NO_MAP:
        return "no optimized map: KVM finds it with the slow path (checks every vCPU)"
    if code == PHYSICAL_ALIAS:
        others = [fmt_id(vcpus[i].id) for i in f["vcpus"]]
        return f"aliased: physical APIC ID {fmt_id(f['apic_id'])} is shared by vCPUs {', '.join(others[:9])}" + (
            f" and {len(others) - 9} more" if len(others) > 9 else "")
    if code == PHYSICAL_SLOT_LOST:
        return f"lost phys_map[{fmt_id(f['apic_id'])}] to {who(f['winner'])}"
    if code == UNREACHABLE:
        return "unreachable: in no phys_map slot, so the fast path never finds it by physical ID"
    if code == HOTPLUG_ONLY:
        return (f"hotplug only: reached only through phys_map[{fmt_id(f['apic_id'])}], its x2APIC ID (the hotplug "
                f"hack), not by its xAPIC ID")
    if code == LOGICAL_ALIAS:
        others = [fmt_id(vcpus[i].id) for i in f["vcpus"]]
        return f"logical ID {fmt_id(f['logical_id'])} overlaps with vCPUs {', '.join(others[:9])}"
    if code == LOGICAL_SLOT_LOST:
        return (f"lost its logical slot ({where()}, logical ID {fmt_id(f['logical_id'])}) to {who(f['winner'])}: "
                f"the last vCPU written wins")
    if code == LOGICAL_PARTIAL:
        return (f"logical ID {fmt_id(f['logical_id'])} has several bits; only its lowest ({where()}) is in the "
                f"logical table")
    if code == SW_DISABLED:
        return "software-disabled: discards fixed and lowest-priority messages" + (
            "; still owns a logical slot (before 5.3)" if f["in_logical_map"] else "")
    if code == XAPIC_ID_MODIFIED:
        return (f"xAPIC ID {fmt_id(f['xapic_id'])} differs from the vCPU ID's low byte {fmt_id(f['expected'])} "
                f"(6.3+ sets the apic_id_modified inhibit)")
    if code == LDR_WRAPPED:
        slot = f.get("apic_id")
        return f"vCPU ID of 2^20 or more: its x2APIC LDR wraps to {fmt_id(f['ldr'])}" + (
            f" and overwrote phys_map[{fmt_id(slot)}]" if slot is not None else "")
    return code


def status_lines(ev: Evaluation, limit: int = 40) -> list[str]:
    """'vCPU 0x1: aliased …; lost phys_map[0x0] to vCPU 0x0' for each vCPU with a status, then a count."""
    index = ev.vcpu_status
    vcpus = ev.scenario.vcpus
    flagged = [i for i in range(len(vcpus)) if index.of(i)]
    out = [f"{vcpus[i].label()}: " + "; ".join(describe(s, ev) for s in index.of(i)) for i in flagged[:limit]]
    if len(flagged) > limit:
        out.append(f"… and {len(flagged) - limit} more vCPUs with a status (apicviz eval --json lists all)")
    return out


def status_counts(ev: Evaluation) -> dict[str, int]:
    """How many vCPUs carry each code, in the order codes first appear."""
    counts: dict[str, int] = {}
    index = ev.vcpu_status
    for i in range(len(ev.scenario.vcpus)):
        for s in index.of(i):
            counts[s.code] = counts.get(s.code, 0) + 1
    return counts
