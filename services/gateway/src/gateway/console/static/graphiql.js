// GraphiQL on the gateway's own assets. Adapted from strawberry's page (MIT): query and
// variables in the URL, headers (Authorization: Bearer ...) kept in the browser.
const EXAMPLE_QUERY = `# GT contract registry. Sign in: Headers → {"Authorization": "Bearer <token>"}
{
  programmes { programmeId name }
  expiringContracts(from: "2018-01-01", to: "2030-12-31", first: 5) {
    nodes { contractId kind endDate maxExtentDate }
  }
}
`;

const parameters = Object.fromEntries(new URLSearchParams(window.location.search));

function updateURL(data) {
  Object.assign(parameters, data);
  const search = new URLSearchParams(
    Object.entries(parameters).filter(([, value]) => Boolean(value)),
  );
  history.replaceState(null, "", "?" + search.toString());
}

const fetchURL = window.location.href.split("?")[0];
const subscriptionUrl = fetchURL.replace(/^http/, "ws");
const fetcher = GraphiQL.createFetcher({ url: fetchURL, subscriptionUrl });

function Page() {
  const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
  const [variables, setVariables] = React.useState(parameters.variables);
  return React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    query,
    variables,
    onEditQuery: (q) => { setQuery(q); updateURL({ q }); },
    onEditVariables: (v) => { setVariables(v); updateURL({ variables: v }); },
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Page));
