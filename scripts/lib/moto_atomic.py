"""moto's server, answering one request at a time.

DynamoDB applies a conditional write atomically. moto's threaded server
checks the condition and writes in two steps, so two replicas taking the
same free lease at the same moment could both succeed, which DynamoDB never
allows. Serving requests one at a time restores that guarantee for the
tests; everything else about moto is unchanged.
"""

import threading

import moto.server as server

_one_at_a_time = threading.Lock()
_run_simple = server.run_simple


def _serialized(app):
    def serve(environ, start_response):
        with _one_at_a_time:
            # The whole response is produced, and closed, inside the lock.
            response = app(environ, start_response)
            try:
                return list(response)
            finally:
                if hasattr(response, "close"):
                    response.close()

    return serve


def _run_simple_serialized(host, port, app, **options):
    return _run_simple(host, port, _serialized(app), **options)


server.run_simple = _run_simple_serialized

if __name__ == "__main__":
    server.main()
