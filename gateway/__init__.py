"""The HTTP/JSON gateway: the API for apps, webshops and tills, and the member's card page.

It reaches the services over gRPC only and holds no business rules: it authenticates, checks
scopes, limits rates, translates JSON to protobuf and back, and maps status codes.
"""
