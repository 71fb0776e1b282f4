"""What a user's script around the official `direct7` SDK does: get_status for every id.

Usage: python bench/sdk_status.py BASE_URL TOKEN THREADS < ids   (THREADS=1: a sequential loop)
Prints how many succeeded; timed from outside by bench/fanout.py.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from direct7 import Client


def main() -> int:
    base_url, token, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ids = sys.stdin.read().split()
    client = Client(api_token=token)
    client.host(base_url)
    if threads == 1:
        ok = sum(1 for rid in ids if client.sms.get_status(request_id=rid))
    else:
        # One client per thread: requests.Session is not documented as thread-safe, and a
        # careful script would not share it.
        import threading

        local = threading.local()

        def fetch(rid: str) -> bool:
            c = getattr(local, "client", None)
            if c is None:
                c = local.client = Client(api_token=token)
                c.host(base_url)
            return bool(c.sms.get_status(request_id=rid))

        with ThreadPoolExecutor(threads) as pool:
            ok = sum(pool.map(fetch, ids))
    print(ok)
    return 0 if ok == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
