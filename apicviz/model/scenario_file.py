"""Reading and writing ``*.apicviz.json`` files (FORMAT.md, version 1).

Every rule produces a :class:`ScenarioError` naming the field, the bad value
and what is allowed. Hostile input (huge files, deep nesting, binary) is
refused before or while parsing, never by crashing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import strict_json
from .errors import ScenarioError, quote, shorten_key
from .file_io import read_bounded
from .kernels import parse_kernel
from .numbers import U8_MAX, U32_MAX, dfr_text, parse_int
from .png_text import is_png, scenario_text_from_png
from .safe_write import atomic_write
from .scenario import (
    APIC_MODES,
    ARB_PRIO_MAX,
    DELIVERIES,
    DEST_MODES,
    DFR_CLUSTER,
    DFR_FLAT,
    MAX_INTERRUPTS,
    MAX_VCPU_ID,
    MAX_VCPUS,
    SHORTHANDS,
    VIA_ICR,
    VIAS,
    Interrupt,
    KvmConfig,
    Scenario,
    Vcpu,
    check_scenario,
)

FORMAT_NAME = "apicviz-scenario"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TEXT = 1_000_000

_TOP_KEYS = {"format", "version", "title", "notes", "kvm", "vcpus", "interrupts"}
_KVM_KEYS = {"kernel", "x2apic_api", "vector_hashing", "map_alloc_fails", "smm"}
_X2APIC_API_KEYS = {"use_32bit_ids", "disable_broadcast_quirk"}
_VCPU_KEYS = {"id", "apic", "sw_enabled", "xapic_id", "logical_id", "dfr", "arb_prio"}
_IRQ_KEYS = {"name", "source", "dest_mode", "dest", "shorthand", "delivery", "vector", "via"}


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(where or "(top level)", f"expected a JSON object, got {_kind(value)}")
    for key in value:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise ScenarioError(
                f"{prefix}{shorten_key(key)}", f"unknown key; allowed here: {', '.join(sorted(allowed))}"
            )
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError(where, f"expected true or false, got {_kind(value)}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(where, f"expected a string, got {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise ScenarioError(where, f"{len(value)} characters; at most {MAX_TEXT}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ScenarioError(where, f"character {exc.start} is an unpaired UTF-16 surrogate, not text") from None
    return value


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        shown = quote(value) if isinstance(value, str) else _kind(value)
        raise ScenarioError(where, f"{shown} is not allowed; use one of {', '.join(choices)}", names_allowed=True)
    return value


def parse_dfr(value: Any, where: str) -> int:
    """``"flat"``, ``"cluster"`` or any raw 32-bit register value."""
    if isinstance(value, str) and value.strip().lower() in ("flat", "cluster"):
        return DFR_FLAT if value.strip().lower() == "flat" else DFR_CLUSTER
    return parse_int(value, where, 0, U32_MAX)


def _kvm(raw: Any) -> KvmConfig:
    obj = _object(raw, "kvm", _KVM_KEYS)
    kvm = KvmConfig()
    if "kernel" in obj:
        kvm.kernel = parse_kernel(obj["kernel"], "kvm.kernel")
    if "x2apic_api" in obj:
        api = _object(obj["x2apic_api"], "kvm.x2apic_api", _X2APIC_API_KEYS)
        if "use_32bit_ids" in api:
            kvm.use_32bit_ids = _bool(api["use_32bit_ids"], "kvm.x2apic_api.use_32bit_ids")
        if "disable_broadcast_quirk" in api:
            kvm.disable_broadcast_quirk = _bool(
                api["disable_broadcast_quirk"], "kvm.x2apic_api.disable_broadcast_quirk"
            )
    if "vector_hashing" in obj:
        kvm.vector_hashing = _bool(obj["vector_hashing"], "kvm.vector_hashing")
    if "map_alloc_fails" in obj:
        kvm.map_alloc_fails = _bool(obj["map_alloc_fails"], "kvm.map_alloc_fails")
    if "smm" in obj:
        kvm.smm = _bool(obj["smm"], "kvm.smm")
    return kvm


def _vcpu(raw: Any, where: str) -> Vcpu:
    obj = _object(raw, where, _VCPU_KEYS)
    if "id" not in obj:
        raise ScenarioError(f"{where}.id", "required (the vCPU ID given to KVM_CREATE_VCPU)")
    vcpu_id = parse_int(obj["id"], f"{where}.id", 0, MAX_VCPU_ID)
    vcpu = Vcpu(id=vcpu_id)
    if "apic" in obj:
        vcpu.apic = _choice(obj["apic"], f"{where}.apic", APIC_MODES)
    if "sw_enabled" in obj:
        vcpu.sw_enabled = _bool(obj["sw_enabled"], f"{where}.sw_enabled")
    if "xapic_id" in obj:
        vcpu.xapic_id = parse_int(obj["xapic_id"], f"{where}.xapic_id", 0, U8_MAX)
    if "logical_id" in obj:
        vcpu.logical_id = parse_int(obj["logical_id"], f"{where}.logical_id", 0, U8_MAX)
    if "dfr" in obj:
        vcpu.dfr = parse_dfr(obj["dfr"], f"{where}.dfr")
    if "arb_prio" in obj:
        vcpu.arb_prio = parse_int(obj["arb_prio"], f"{where}.arb_prio", 0, ARB_PRIO_MAX)
    return vcpu


def _interrupt(raw: Any, where: str) -> Interrupt:
    obj = _object(raw, where, _IRQ_KEYS)
    irq = Interrupt(dest=None)
    if "name" in obj:
        irq.name = _text(obj["name"], f"{where}.name")
    if obj.get("source") is not None:
        irq.source = parse_int(obj["source"], f"{where}.source", 0, MAX_VCPU_ID)
    if "dest_mode" in obj:
        irq.dest_mode = _choice(obj["dest_mode"], f"{where}.dest_mode", DEST_MODES)
    if "shorthand" in obj:
        irq.shorthand = _choice(obj["shorthand"], f"{where}.shorthand", SHORTHANDS)
    if "delivery" in obj:
        irq.delivery = _choice(obj["delivery"], f"{where}.delivery", DELIVERIES)
    if obj.get("dest") is not None:
        irq.dest = parse_int(obj["dest"], f"{where}.dest", 0, U32_MAX)
    if "vector" in obj:
        irq.vector = parse_int(obj["vector"], f"{where}.vector", 0, U8_MAX)
    if "via" in obj:
        irq.via = _choice(obj["via"], f"{where}.via", VIAS)
    return irq


def _list(value: Any, where: str, limit: int, rule: str) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(where, f"expected a list, got {_kind(value)}")
    if len(value) > limit:
        raise ScenarioError(where, f"{len(value)} entries; at most {limit} ({rule})")
    return value


def scenario_from_dict(raw: Any) -> Scenario:
    """Build and validate a scenario from parsed JSON."""
    obj = _object(raw, "", _TOP_KEYS)
    if "format" in obj and obj["format"] != FORMAT_NAME:
        raise ScenarioError("format", f'expected "{FORMAT_NAME}", got {quote(obj["format"])}')
    if "version" in obj:
        version = obj["version"]
        if type(version) is not int or version != FORMAT_VERSION:
            raise ScenarioError("version", f"{quote(version)} is not supported; this program reads version 1")
    scenario = Scenario()
    if "title" in obj:
        scenario.title = _text(obj["title"], "title")
    if "notes" in obj:
        scenario.notes = _text(obj["notes"], "notes")
    if "kvm" in obj:
        scenario.kvm = _kvm(obj["kvm"])
    if "vcpus" not in obj:
        raise ScenarioError("vcpus", "required: the list of vCPUs in creation order")
    scenario.vcpus = [
        _vcpu(v, f"vcpus[{i}]") for i, v in enumerate(_list(obj["vcpus"], "vcpus", MAX_VCPUS, "KVM_MAX_VCPUS"))
    ]
    if "interrupts" in obj:
        items = _list(obj["interrupts"], "interrupts", MAX_INTERRUPTS, "the interrupt limit per scenario")
        scenario.interrupts = [_interrupt(q, f"interrupts[{i}]") for i, q in enumerate(items)]
    check_scenario(scenario)
    return scenario


def scenario_from_text(text: str | bytes) -> Scenario:
    """Parse JSON text; non-JSON, binary and pathological nesting become ScenarioError."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ScenarioError("", f"file is {len(text)} bytes; at most {MAX_FILE_BYTES} for a scenario")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ScenarioError("", f"not a UTF-8 text file (byte {exc.start} is {text[exc.start]:#04x})") from None
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError("", f"file has {len(text)} characters; at most {MAX_FILE_BYTES} for a scenario")
    if "\x00" in text:
        raise ScenarioError("", f"not a JSON text: NUL byte at offset {text.index(chr(0))}")
    return scenario_from_dict(strict_json.loads(text))


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a scenario file (or a PNG exported by apicviz); every failure is a ScenarioError."""
    p = Path(path)
    data = read_bounded(p, MAX_FILE_BYTES, "a scenario")
    if is_png(data):
        return scenario_from_text(scenario_text_from_png(data, p.name))
    return scenario_from_text(data)


def dfr_to_json(dfr: int) -> str:
    return dfr_text(dfr)


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The file form; defaults are written out for the KVM side, omitted for vCPUs."""
    kvm = scenario.kvm
    out: dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    if scenario.title:
        out["title"] = scenario.title
    if scenario.notes:
        out["notes"] = scenario.notes
    out["kvm"] = {
        "kernel": kvm.kernel,
        "x2apic_api": {
            "use_32bit_ids": kvm.use_32bit_ids,
            "disable_broadcast_quirk": kvm.disable_broadcast_quirk,
        },
        "vector_hashing": kvm.vector_hashing,
        "map_alloc_fails": kvm.map_alloc_fails,
        "smm": kvm.smm,
    }
    vcpus = []
    for v in scenario.vcpus:
        item: dict[str, Any] = {"id": v.id, "apic": v.apic}
        if not v.sw_enabled:
            item["sw_enabled"] = False
        if v.xapic_id != v.id & 0xFF:
            item["xapic_id"] = v.xapic_id
        if v.logical_id:
            item["logical_id"] = v.logical_id
        if v.dfr != DFR_FLAT:
            item["dfr"] = dfr_to_json(v.dfr)
        if v.arb_prio:
            item["arb_prio"] = v.arb_prio
        vcpus.append(item)
    out["vcpus"] = vcpus
    irqs = []
    for q in scenario.interrupts:
        item = {}
        if q.name:
            item["name"] = q.name
        item["source"] = q.source
        item["dest_mode"] = q.dest_mode
        if q.dest is not None:
            item["dest"] = q.dest
        item["shorthand"] = q.shorthand
        item["delivery"] = q.delivery
        item["vector"] = q.vector
        if q.via != VIA_ICR:  # written only for PV IPIs, so files without them read as before
            item["via"] = q.via
        irqs.append(item)
    out["interrupts"] = irqs
    return out


def scenario_to_text(scenario: Scenario) -> str:
    """Pretty JSON with one vCPU or interrupt per line, so diffs of scenarios stay readable."""
    data = scenario_to_dict(scenario)
    vcpus = data.pop("vcpus")
    irqs = data.pop("interrupts")
    head = json.dumps(data, indent=2, ensure_ascii=False)[:-2]
    parts = [head + ","]
    parts.append('  "vcpus": [' + ",".join("\n    " + json.dumps(v) for v in vcpus) + ("\n  ]," if vcpus else "],"))
    parts.append(
        '  "interrupts": [' + ",".join("\n    " + json.dumps(q, ensure_ascii=False) for q in irqs)
        + ("\n  ]" if irqs else "]")
    )
    return "\n".join(parts) + "\n}\n"


def save_scenario(scenario: Scenario, path: str | os.PathLike[str], replace_read_only: bool = False) -> None:
    """Validate, then save atomically (:func:`.safe_write.atomic_write`); OSError is left to the caller."""
    check_scenario(scenario)
    atomic_write(path, scenario_to_text(scenario).encode("utf-8"), replace_read_only)
