"""The strawberry GraphQL schema: types, queries, mutations, subscriptions, limits."""
