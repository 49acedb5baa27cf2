"""Every public KVM vector, retargeted to the host's kernel and probed on the real /dev/kvm.

Two comparisons: the real kernel against the model for the host's kernel and
configuration (every interrupt the host can express), and — for vectors whose
kernel already behaves like the host's — the real kernel against the
oracle's own answer stored in the vector.
"""
from __future__ import annotations

import collections
import json
from pathlib import Path

from kvm_host_helpers import COUNTS, require_kvm

from apicviz.host.probe import probe
from apicviz.model import scenario_from_dict
from apicviz.model.kernels import behaviour_for

HOST = require_kvm()
VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors" / "kvm-public.jsonl"


def _cases() -> list[dict]:
    return [json.loads(line) for line in VECTORS.read_text().splitlines() if line.strip()]


def test_vendored_vectors_present() -> None:
    assert len(_cases()) >= 300, f"{VECTORS} should hold the public vectors"


def test_every_public_vector_agrees_on_the_host() -> None:
    compared = 0
    against_oracle = 0
    skips: collections.Counter[str] = collections.Counter()
    failures = []
    for case in _cases():
        scenario = scenario_from_dict(case["scenario"])
        result = probe(scenario, host=HOST)
        if result.skipped:
            skips[result.skip_code or "?"] += len(scenario.interrupts)
            continue
        same_range = behaviour_for(scenario.kvm.kernel).name == HOST.behaviour
        same_config = scenario.kvm.vector_hashing == HOST.vector_hashing
        expected = case["expected"]["interrupts"]
        ids = [v.id for v in scenario.vcpus]
        for check in result.interrupts:
            if check.skipped:
                skips[check.skip_code or "?"] += 1
                continue
            compared += 1
            irq = scenario.interrupts[check.index]
            if not check.agree:
                failures.append(f"{case['name']} #{check.index} {irq.describe()}: host {check.host_accepted}, "
                                f"model {check.model_accepted}")
            # The oracle assumed SMM support; an SMI is only comparable with it on a host that has SMM.
            if same_range and same_config and (irq.delivery != "smi" or HOST.smm):
                against_oracle += 1
                oracle = expected[check.index]["accepted"]
                if check.host_accepted != oracle:
                    failures.append(f"{case['name']} #{check.index} {irq.describe()}: host {check.host_accepted}, "
                                    f"oracle {oracle} (vCPU ids {ids[:8]}…)")
    COUNTS["public vectors"] = (f"{compared} interrupts compared with the model ({against_oracle} also with the "
                                f"oracle's answer), {sum(skips.values())} skipped: "
                                + ", ".join(f"{code} {n}" for code, n in sorted(skips.items())))
    assert compared > 0, "the host comparison ran on nothing"
    assert against_oracle > 0, "no vector of the host's behaviour range was compared with the oracle"
    assert not failures, "\n".join(failures[:20])
