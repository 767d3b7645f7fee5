// The same GraphQL API and tokens as any client; the token stays in this tab (sessionStorage).
export const session = {
  get token() { return sessionStorage.getItem("gt-token") || ""; },
  set token(value) { value ? sessionStorage.setItem("gt-token", value) : sessionStorage.removeItem("gt-token"); },
  asOf: "",
  knownAt: "",
};

export async function gql(query, variables = {}) {
  const headers = { "content-type": "application/json" };
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
  return body.data;
}

// Every view asks at the picked horizon.
export function horizon() {
  const knownAt = session.knownAt ? new Date(session.knownAt).toISOString() : null;
  return { asOf: session.asOf || null, knownAt };
}

export function whoAmI(token) {
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return `${claims.role}${claims.org ? " " + claims.org : ""} (${claims.sub})`;
  } catch {
    return "?";
  }
}
