"""A libvirt domain XML: the vCPUs QEMU would create for it, in creation order, with their APIC IDs.

libvirt turns the domain into QEMU's command line and start-up commands:

* ``<vcpu current='C'>M</vcpu>`` and ``<cpu><topology sockets dies clusters
  cores threads/>`` become ``-smp B,maxcpus=M,sockets=..,dies=..,cores=..,threads=..``
  (without a topology: ``sockets=M,cores=1,threads=1``), where B counts the
  enabled vCPUs that are not hot-pluggable;
* ``<vcpus>`` lists every vCPU: ``id`` is QEMU's slot (cpu index), ``enabled``
  whether it is online at start, ``hotpluggable``, and ``order``, the order in
  which libvirt adds the enabled hot-pluggable ones (``device_add``) after QEMU
  created the B boot vCPUs — QEMU can create only the first B slots at boot,
  so those must be vCPUs 0..B-1;
* ``<iommu model='intel'><driver intremap='on' eim='on'/>`` (eim left out
  means QEMU's ``auto``, which with libvirt's split irqchip is on) and
  ``model='amd'`` with ``xtsup='on'`` make QEMU enable the x2APIC API, as does
  an APIC ID of 255 or more in any slot (:mod:`.qemu_topology`).

The XML is read with the standard library's expat, refusing any DOCTYPE (so
no entity can be declared or expanded) and anything over 16 MB.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import NoReturn
from xml.parsers import expat

from ..model.errors import ScenarioError, quote
from ..model.numbers import fmt_id
from .common import ImportResult
from .qemu_topology import SmpConfig, apic_id_from_index, apic_id_limit, parse_smp, qemu_enables_x2apic_api
from .topology_scenario import topology_scenario

COMMAND = "libvirt"
MAX_XML_BYTES = 16 * 1024 * 1024
#: Tags and attributes (counted as '<' and '=' marks); 4096 <vcpu/> entries need about 16,000.
MAX_XML_MARKS = 200_000
_YES_NO = {"yes": True, "no": False}


@dataclass
class LibvirtVcpu:
    """One ``<vcpus><vcpu/>`` entry (or its default when ``<vcpus>`` is absent)."""

    id: int
    enabled: bool
    hotpluggable: bool
    order: int | None


def parse_xml_safely(data: bytes | str, source: str) -> ET.Element:
    """An element tree from ``data``; a DOCTYPE, an entity or malformed XML is a ScenarioError."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_XML_BYTES:
        raise ScenarioError(source, f"more than {MAX_XML_BYTES:,} bytes; too large for a domain XML")
    # Elements and attributes cost a few hundred bytes each once parsed: count their marks first.
    for mark, what in ((b"<", "tags"), (b"=", "attributes")):
        if raw.count(mark) > MAX_XML_MARKS:
            raise ScenarioError(source, f"more than {MAX_XML_MARKS:,} {what}; a domain XML has a few thousand")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()

    def refuse_doctype(name: str, *_: object) -> None:
        raise ScenarioError(f"{source}: line {parser.CurrentLineNumber}",
                            f"a DOCTYPE ({name!r}) is not allowed: a libvirt domain has none, and a DTD could "
                            f"declare entities")

    def refuse_entity(name: str, *_: object) -> NoReturn:
        raise ScenarioError(f"{source}: line {parser.CurrentLineNumber}", f"entity {name!r} is not allowed")

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = lambda *a: refuse_entity(str(a[0]))
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise ScenarioError(f"{source}: line {exc.lineno}", f"not well-formed XML: {expat.ErrorString(exc.code)}") \
            from None
    return builder.close()


def _uint(value: str | None, where: str, lo: int, hi: int) -> int:
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 10:
        raise ScenarioError(where, f"expected a whole number in {lo}..{hi}, got {quote(value or '')}")
    number = int(text)
    if not lo <= number <= hi:
        raise ScenarioError(where, f"{number} is out of range; allowed {lo}..{hi}")
    return number


def _yes_no(value: str | None, where: str, default: bool) -> bool:
    if value is None:
        return default
    if value not in _YES_NO:
        raise ScenarioError(where, f"{quote(value)}: use 'yes' or 'no'")
    return _YES_NO[value]


def _smp(domain: ET.Element, source: str) -> tuple[SmpConfig, int, list[str]]:
    """The topology (-smp with maxcpus = <vcpu>) and the ``current`` count."""
    vcpu = domain.find("vcpu")
    if vcpu is None:
        raise ScenarioError(f"{source}: <domain>", "no <vcpu> element: how many vCPUs does the domain have?")
    maximum = _uint(vcpu.text, f"{source}: <vcpu>", 1, 4096)
    current = _uint(vcpu.get("current"), f"{source}: <vcpu current>", 1, maximum) if "current" in vcpu.attrib \
        else maximum
    topo = domain.find("cpu/topology")
    if topo is None:
        text = f"{maximum},sockets={maximum},cores=1,threads=1"
    else:
        where = f"{source}: <cpu><topology>"
        counts = {}
        for level in ("sockets", "dies", "clusters", "cores", "threads"):
            required = level in ("sockets", "cores", "threads")
            if level not in topo.attrib and required:
                raise ScenarioError(where,
                                    f"the {level} attribute is missing (libvirt requires sockets, cores, threads)")
            counts[level] = _uint(topo.get(level, "1"), f"{where} {level}", 1, 4096)
        if counts["clusters"] > 1:
            raise ScenarioError(f"{where} clusters", "x86 has no clusters; QEMU refuses clusters above 1")
        product = counts["sockets"] * counts["dies"] * counts["cores"] * counts["threads"]
        if product != maximum:
            raise ScenarioError(where, f"sockets*dies*cores*threads = {product}, but <vcpu> is {maximum}; "
                                       f"libvirt requires them to match")
        text = f"{maximum}," + ",".join(f"{k}={v}" for k, v in counts.items() if k != "clusters")
    smp, warnings = parse_smp(text)
    return smp, current, warnings


def _vcpus(domain: ET.Element, maximum: int, current: int, source: str) -> list[LibvirtVcpu]:
    listing = domain.find("vcpus")
    if listing is None:
        return [LibvirtVcpu(id=i, enabled=i < current, hotpluggable=i >= current, order=None) for i in range(maximum)]
    entries: dict[int, LibvirtVcpu] = {}
    for n, node in enumerate(listing.findall("vcpu")):
        where = f"{source}: <vcpus> entry {n + 1}"
        vid = _uint(node.get("id"), f"{where} id", 0, maximum - 1)
        if vid in entries:
            raise ScenarioError(f"{where} id", f"vcpu id {vid} is listed twice")
        enabled = _yes_no(node.get("enabled"), f"{where} (id {vid}) enabled", True)
        hotpluggable = _yes_no(node.get("hotpluggable"), f"{where} (id {vid}) hotpluggable", not enabled)
        if not enabled and not hotpluggable:
            raise ScenarioError(f"{where} (id {vid})", "a disabled vCPU must be hotpluggable='yes' (libvirt's rule)")
        order = _uint(node.get("order"), f"{where} (id {vid}) order", 1, 4096) if "order" in node.attrib else None
        entries[vid] = LibvirtVcpu(id=vid, enabled=enabled, hotpluggable=hotpluggable, order=order)
    if len(entries) != maximum:
        missing = [i for i in range(maximum) if i not in entries][:5]
        raise ScenarioError(f"{source}: <vcpus>", f"lists {len(entries)} vCPUs but <vcpu> says {maximum}; "
                                                  f"missing ids {missing}")
    online = sum(v.enabled for v in entries.values())
    if online != current:
        raise ScenarioError(f"{source}: <vcpus>", f"{online} vCPUs are enabled but <vcpu current> is {current}")
    return [entries[i] for i in range(maximum)]


def _creation_order(vcpus: list[LibvirtVcpu], source: str, warnings: list[str]) -> list[LibvirtVcpu]:
    """Boot vCPUs (slots 0..B-1, by -smp) first, then the enabled hot-pluggable ones by ``order``."""
    boot = [v for v in vcpus if v.enabled and not v.hotpluggable]
    if [v.id for v in boot] != list(range(len(boot))):
        gap = next(i for i, v in enumerate(boot) if v.id != i)
        raise ScenarioError(f"{source}: <vcpus>",
                            f"vcpu {boot[gap].id} is enabled and not hotpluggable, but vcpu {gap} is not: QEMU "
                            f"creates only the first {len(boot)} slots at boot, so the non-hotpluggable vCPUs "
                            f"must be 0..{len(boot) - 1}")
    if not boot:
        raise ScenarioError(f"{source}: <vcpus>", "no enabled, non-hotpluggable vCPU: QEMU needs vCPU 0 at boot")
    plugged = [v for v in vcpus if v.enabled and v.hotpluggable]
    online = boot + plugged
    with_order = [v for v in online if v.order is not None]
    if with_order and len(with_order) != len(online):
        raise ScenarioError(f"{source}: <vcpus>", "order is given for some enabled vCPUs but not all; libvirt "
                                                  "requires it for all of them or none")
    if with_order:
        orders = [v.order for v in online]
        if len(set(orders)) != len(orders):
            raise ScenarioError(f"{source}: <vcpus>", "two enabled vCPUs share an order value")
        boot_orders = [v.order or 0 for v in boot]  # every one is set (checked above)
        if boot_orders != sorted(boot_orders):
            warnings.append(f"{source}: the boot vCPUs' order values are not increasing; QEMU creates them in "
                            f"slot order (0..{len(boot) - 1}) whatever their order")
        plugged.sort(key=lambda v: v.order or 0)
    elif plugged:
        warnings.append(f"{source}: no order given for the {len(plugged)} hot-plugged vCPUs; libvirt may add them "
                        f"in any order, id order is assumed")
    return boot + plugged


def _iommu_x2apic(domain: ET.Element, kvm: bool, source: str) -> tuple[bool, str | None]:
    """Whether an IOMMU makes QEMU enable the x2APIC API, and a line saying which."""
    split = (domain.find("features/ioapic") is not None
             and domain.find("features/ioapic").get("driver") == "qemu")  # type: ignore[union-attr]
    for iommu in domain.findall("devices/iommu"):
        model, driver = iommu.get("model", ""), iommu.find("driver")
        attrs = driver.attrib if driver is not None else {}
        if model == "intel":
            eim = attrs.get("eim")
            if eim == "on" or (eim is None and attrs.get("intremap") == "on" and split and kvm):
                how = "eim='on'" if eim == "on" else "intremap='on' with eim left to QEMU's auto (on)"
                return True, f"intel IOMMU with {how}"
        elif model == "amd" and attrs.get("xtsup") == "on":
            return True, "amd IOMMU with xtsup='on' (QEMU 8.x and later)"
    return False, None


def import_libvirt_domain(data: bytes | str, mode: str | None, source_name: str,
                          all_slots: bool = False) -> ImportResult:
    """The vCPUs QEMU creates for the domain (creation order), their APIC IDs and the x2APIC API flags."""
    domain = parse_xml_safely(data, source_name)
    if domain.tag != "domain":
        raise ScenarioError(source_name, f"the root element is <{domain.tag[:40]}>, not <domain>: is this a "
                                         f"libvirt domain XML (virsh dumpxml)?")
    warnings: list[str] = []
    kind = domain.get("type", "")
    kvm = kind == "kvm"
    if not kvm:
        warnings.append(f"{source_name}: domain type {kind!r} is not 'kvm': QEMU emulates the APICs itself, so "
                        f"KVM's map is what KVM would build for this VM")
    smp, current, smp_warnings = _smp(domain, source_name)
    warnings += [f"{source_name}: {w}" for w in smp_warnings]
    vcpus = _vcpus(domain, smp.maxcpus, current, source_name)
    ordered = _creation_order(vcpus, source_name, warnings)
    if all_slots:
        ordered += [v for v in vcpus if not v.enabled]
    apic_ids = [apic_id_from_index(smp, v.id) for v in ordered]
    iommu, iommu_text = _iommu_x2apic(domain, kvm, source_name)
    limit = apic_id_limit(smp)
    flags = kvm and qemu_enables_x2apic_api(limit, iommu)
    disabled = any(f.get("name") == "x2apic" and f.get("policy") in ("disable", "forbid")
                   for f in domain.findall("cpu/feature"))
    if disabled and mode == "x2apic":
        raise ScenarioError(f"{source_name}: <cpu>", "the x2apic CPU feature is disabled, so the guest cannot be in "
                                                     "x2APIC mode; drop --x2apic")
    if disabled and mode is None:
        mode = "xapic"
    name = (domain.findtext("name") or "").strip()[:80] or source_name
    explanation = [
        (f"Domain {name!r}: QEMU runs with -smp {len([v for v in vcpus if v.enabled and not v.hotpluggable])},"
        f"maxcpus={smp.maxcpus},sockets={smp.sockets},dies={smp.dies},cores={smp.cores},threads={smp.threads}; "
        f"{len(ordered)} vCPU{'s' if len(ordered) != 1 else ''} in creation order "
        f"(libvirt vcpu ids {', '.join(str(v.id) for v in ordered[:16])}{' …' if len(ordered) > 16 else ''})."),
        f"APIC IDs by QEMU's topology rule; the largest possible is {fmt_id(limit - 1)}"
        + (f"; {iommu_text}" if iommu_text else "") + ".",
    ]
    if disabled:
        explanation.append("The x2apic CPU feature is disabled: the guest stays in xAPIC mode.")
    return topology_scenario(apic_ids, mode, flags, COMMAND, source_name, explanation, warnings,
                             title=f"libvirt domain {name} ({len(ordered)} vCPUs)")


__all__ = ["LibvirtVcpu", "import_libvirt_domain", "parse_xml_safely"]
