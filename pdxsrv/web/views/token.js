// The token form: shown when the API answers 401; the token is kept in sessionStorage for this tab.
import { h } from "../dom.js";

export function tokenForm(wrong, submit) {
  const input = h("input", { type: "password", name: "token", id: "token", autocomplete: "current-password", required: true,
                             placeholder: "the server's --token" });
  const form = h("form", { class: "card token-form", id: "token-form" },
    h("h1", {}, "This server needs its token"),
    h("p", {}, "pdxsrv was started with ", h("code", {}, "--token"), ". Give it once; this tab keeps it until it is closed ",
      "and sends it as ", h("code", {}, "Authorization: Bearer"), " with every request."),
    wrong ? h("p", { class: "error", id: "token-wrong" }, "The server did not accept the token. Try again.") : null,
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Token"), input),
    h("button", { type: "submit", class: "primary" }, "Continue"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (value) submit(value);
  });
  setTimeout(() => input.focus(), 0);
  return form;
}
