// Dutch and English; the choice is kept in this browser.
const TEXT = {
  en: {
    title: "GT contract registry", skip: "Skip to content", signin: "Sign in",
    token: "Token (as printed by make run)", signinButton: "Sign in", signout: "Sign out",
    horizon: "As of / known at", asOf: "As of (valid date)", knownAt: "Known at (recorded time)",
    apply: "Apply", now: "Now", timeline: "Expiry timeline", history: "History",
    participation: "Participation", anonymous: "Not signed in: public facts only.",
    signedIn: "Signed in as", present: "Showing the present.", showing: "Showing",
    programme: "Programme", supplier: "Supplier", municipality: "Municipality", all: "all",
    filter: "Filter", contract: "Contract", kind: "Kind", start: "Start", end: "End",
    maxExtent: "Maximum extent", status: "Status", axis: "Time axis",
    callOff: "Call-off", framework: "Framework", exportCsv: "Export CSV",
    thresholds: "Warning thresholds (24, 18, 12, 6, 3 months before the end)",
    term: "Term", extent: "Possible extension", today: "As-of date",
    aggregate: "Tender or contract", show: "Show", event: "Event", validTime: "Valid time",
    recordedTime: "Recorded time", actor: "Actor", summary: "Summary",
    backdated: "backdated", correction: "correction", noEvents: "No events at this horizon.",
    byProgramme: "Participation per programme", byProvince: "Participation per province",
    key: "Group", participating: "Participating", municipalities: "Municipalities", rate: "Rate",
    overall: "Municipalities in at least one programme", contracts: "Contracts and call-offs",
    historyOf: "History of", stateNow: "State at this horizon", field: "Field", value: "Value",
  },
  nl: {
    title: "GT-contractregister", skip: "Naar de inhoud", signin: "Inloggen",
    token: "Token (zoals make run het toont)", signinButton: "Inloggen", signout: "Uitloggen",
    horizon: "Peildatum / bekend op", asOf: "Peildatum (geldigheid)", knownAt: "Bekend op (registratietijd)",
    apply: "Toepassen", now: "Nu", timeline: "Looptijden", history: "Geschiedenis",
    participation: "Deelname", anonymous: "Niet ingelogd: alleen openbare gegevens.",
    signedIn: "Ingelogd als", present: "U ziet het heden.", showing: "U ziet",
    programme: "Programma", supplier: "Leverancier", municipality: "Gemeente", all: "alle",
    filter: "Filteren", contract: "Contract", kind: "Soort", start: "Begin", end: "Einde",
    maxExtent: "Uiterste einde", status: "Status", axis: "Tijdas",
    callOff: "Nadere overeenkomst", framework: "Raamovereenkomst", exportCsv: "CSV exporteren",
    thresholds: "Waarschuwingsmomenten (24, 18, 12, 6, 3 maanden voor het einde)",
    term: "Looptijd", extent: "Mogelijke verlenging", today: "Peildatum",
    aggregate: "Aanbesteding of contract", show: "Tonen", event: "Gebeurtenis", validTime: "Geldig vanaf",
    recordedTime: "Geregistreerd op", actor: "Door", summary: "Samenvatting",
    backdated: "met terugwerkende kracht", correction: "correctie", noEvents: "Geen gebeurtenissen op dit moment.",
    byProgramme: "Deelname per programma", byProvince: "Deelname per provincie",
    key: "Groep", participating: "Deelnemend", municipalities: "Gemeenten", rate: "Aandeel",
    overall: "Gemeenten in minstens één programma", contracts: "Contracten en nadere overeenkomsten",
    historyOf: "Geschiedenis van", stateNow: "Stand op dit moment", field: "Veld", value: "Waarde",
  },
};

export let lang = localStorage.getItem("gt-lang") || (navigator.language.startsWith("nl") ? "nl" : "en");

export function t(key) {
  return TEXT[lang][key] ?? TEXT.en[key] ?? key;
}

export function setLang(next) {
  lang = next;
  localStorage.setItem("gt-lang", next);
  document.documentElement.lang = next;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === next));
}
