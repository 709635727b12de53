"""A bare grpc.aio echo server in a process of its own: `python -m bench.echo_server PORT`."""

import asyncio
import sys

import grpc


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def serve(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "bench.v1.EchoService", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            )
        ]
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
