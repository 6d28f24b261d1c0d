"""Write a large synthetic Transparency in Coverage in-network rates file (made-up rates, realistic shape).

    python benchmarks/generate_tic.py OUT.json --megabytes 2000 [--seed N] [--references-last]

The shape follows CMS's schema: provider references (many provider groups, each with NPIs and a TIN),
then thousands of billing codes, each with several negotiated rates for groups of providers and several
prices per rate (places of service, billing classes, rate types, expiration dates). A few of the codes
are in the shipped procedures.csv; most are not, as in a payer's real file. Written as a stream, so
memory stays small whatever the size.
"""

import argparse
import json
import random

SHIPPED = ["64483", "64484", "64490", "64491", "64493", "64494", "64635", "64636", "20610", "99213", "62323"]


def references(rng, groups):
    for group_id in range(1, groups + 1):
        yield {
            "provider_group_id": group_id,
            "provider_groups": [
                {
                    "npi": [rng.randrange(1_000_000_000, 2_000_000_000) for _ in range(rng.randint(1, 6))],
                    "tin": {"type": "ein", "value": f"{rng.randrange(10, 99)}-{rng.randrange(1_000_000, 9_999_999)}"},
                }
                for _ in range(rng.randint(1, 3))
            ],
        }


def item(rng, code, groups):
    rates = []
    for _ in range(rng.randint(3, 8)):
        prices = []
        for _ in range(rng.randint(2, 6)):
            price = {
                "negotiated_type": rng.choice(["negotiated", "negotiated", "fee schedule", "derived", "percentage"]),
                "negotiated_rate": round(rng.uniform(20, 2000), 2),
                "expiration_date": rng.choice(["9999-12-31", "2026-12-31", "2027-06-30"]),
                "service_code": rng.choice([["11"], ["22", "19"], ["24"], ["11", "22"], ["CSTM-00"]]),
                "billing_class": rng.choice(["professional", "professional", "institutional"]),
            }
            if rng.random() < 0.1:
                price["billing_code_modifier"] = [rng.choice(["26", "TC", "50"])]
            if rng.random() < 0.1:
                price["setting"] = "inpatient"
            prices.append(price)
        rates.append(
            {"provider_references": rng.sample(range(1, groups + 1), rng.randint(1, 12)), "negotiated_prices": prices}
        )
    return {
        "negotiation_arrangement": "ffs",
        "name": f"Service {code}",
        "billing_code_type": "CPT" if code[0].isdigit() else "HCPCS",
        "billing_code_type_version": "2025",
        "billing_code": code,
        "description": f"Synthetic service {code} for the benchmark",
        "negotiated_rates": rates,
    }


def write(path, megabytes, seed=0, references_last=False, groups=20_000):
    """Write the file; returns its size in bytes."""
    rng = random.Random(seed)
    limit = megabytes * 1_000_000
    head = {
        "reporting_entity_name": "Synthetic Payer",
        "reporting_entity_type": "health insurance issuer",
        "plan_name": "Synthetic PPO",
        "plan_id_type": "ein",
        "plan_id": "0000000000",
        "plan_market_type": "group",
        "last_updated_on": "2025-06-01",
        "version": "1.3.1",
    }
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps(head)[:-1])

        def write_references():
            out.write(', "provider_references": [')
            for i, reference in enumerate(references(rng, groups)):
                out.write((", " if i else "") + json.dumps(reference))
            out.write("]")

        if not references_last:
            write_references()
        out.write(', "in_network": [')
        written, n = out.tell(), 0
        while written < limit:
            code = SHIPPED[n % len(SHIPPED)] if n % 50 == 0 else f"{rng.randrange(10000, 99999)}"
            out.write((", " if n else "") + json.dumps(item(rng, code, groups)))
            n += 1
            if n % 1000 == 0:
                written = out.tell()
        out.write("]")
        if references_last:
            write_references()
        out.write("}\n")
        return out.tell()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    parser.add_argument("--megabytes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--references-last", action="store_true")
    args = parser.parse_args()
    size = write(args.output, args.megabytes, args.seed, args.references_last)
    print(f"{args.output}: {size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
