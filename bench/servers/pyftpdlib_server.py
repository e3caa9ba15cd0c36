"""pyftpdlib launcher for the kftpd benchmark.

usage: pyftpdlib_server.py PORT PASV_MIN PASV_MAX CERT KEY
System logins (UnixAuthorizer: spwd + crypt), explicit FTPS optional, no connection limits.
"""
import logging
import sys

from pyftpdlib.authorizers import UnixAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    port, pasv_min, pasv_max = (int(x) for x in sys.argv[1:4])
    cert, key = sys.argv[4:6]
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger('pyftpdlib').setLevel(logging.WARNING)

    handler = TLS_FTPHandler
    handler.authorizer = UnixAuthorizer(require_valid_shell=False)
    handler.certfile = cert
    handler.keyfile = key
    handler.tls_control_required = False
    handler.tls_data_required = False
    handler.passive_ports = range(pasv_min, pasv_max + 1)
    handler.banner = 'pyftpdlib bench ready.'

    server = FTPServer(('127.0.0.1', port), handler)
    server.max_cons = 20000
    server.max_cons_per_ip = 0
    server.serve_forever(handle_exit=True)


if __name__ == '__main__':
    main()
