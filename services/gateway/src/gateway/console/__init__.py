"""The gateway's own web pages: GraphiQL and the coordinators' and auditors' console.

Everything a page loads is served from `static/` (vendored packages pinned in
`vendor.json`), so both work on a closed network; the console speaks the same GraphQL API
with the same tokens as any other client.
"""
