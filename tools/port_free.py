"""Stop `make lab` with a clear message when its port is taken.

Jupyter would otherwise move to the next free port, which an SSH tunnel to the first one
does not reach. Usage: python tools/port_free.py 8888
"""

import socket
import sys


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Would Jupyter's own bind fail? It sets SO_REUSEADDR (tornado does), so a port left in
    TIME-WAIT by a server that just stopped is free for it, and is free here too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if sys.platform != "win32":   # on Windows SO_REUSEADDR would let two servers share a port
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0]) if argv else 8888
    if port_in_use(port):
        print(f"error: port {port} on 127.0.0.1 is already in use (another JupyterLab, or another "
              f"program). Stop it (`jupyter server list` shows running servers), or choose another "
              f"port: make lab PORT={port + 1} (and use that port in your SSH tunnel too).",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
