"""Run scim2-tester (python-scim) against a running tableau-scim server.

Usage: check.py BASE_URL   (the bearer token comes from the SCIM_TOKEN environment variable)

Every check must end in SUCCESS; a SKIPPED check (a feature the server says it does not offer,
such as /Bulk) is reported and counted apart. Prints `N passed, M failed, K skipped` and exits
non-zero on any failure.
"""

import os
import sys

from httpx2 import Client
from scim2_cli.session import describe_server
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    url = sys.argv[1]
    token = os.environ["SCIM_TOKEN"]
    client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
    client.provider = describe_server(client, None, None, None)
    results = check_server(client)
    passed = failed = skipped = 0
    for r in results:
        if r.status == Status.SUCCESS:
            passed += 1
            continue
        if r.status == Status.SKIPPED:
            skipped += 1
            print(f"SKIPPED {r.title}: {r.reason}")
            continue
        failed += 1
        print(f"{r.status.name} [{r.resource_type or '-'}] {r.title}")
        if r.reason:
            print(f"    reason: {r.reason}")
        if r.data is not None:
            print(f"    data: {str(r.data)[:600]}")
    print(f"scim2-tester: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
