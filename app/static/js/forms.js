/* Ruta forms: comforts only; every form works without this file.
 * 1. A page that comes back with errors puts the focus on the list of errors (or on the
 *    first field in error), so that she sees it and a screen reader reads it. Without
 *    this file the address's #anchor still scrolls the form into view.
 * 2. The referral form offers, for the service chosen, only the institutions that give it
 *    (each option lists its services in data-services); the server checks it again. */
(function () {
  "use strict";

  function focusFirstError() {
    var target = document.querySelector("[data-error-focus]") ||
      document.querySelector("[aria-invalid='true']");
    if (!target) { return; }
    var details = target.parentNode;
    while (details && details !== document.body) {
      if (details.tagName === "DETAILS") { details.open = true; }
      details = details.parentNode;
    }
    target.focus();
    if (target.scrollIntoView) { target.scrollIntoView({ block: "start" }); }
  }

  function servicesOf(option) {
    return (" " + (option.getAttribute("data-services") || "") + " ");
  }

  function filterReceivers(service, receivers) {
    var chosen = service.value;
    var i, option, gives;
    for (i = 0; i < receivers.options.length; i += 1) {
      option = receivers.options[i];
      if (!option.value) { continue; }
      gives = !chosen || servicesOf(option).indexOf(" " + chosen + " ") !== -1;
      option.hidden = !gives;
      option.disabled = !gives;
      if (!gives && option.selected) { receivers.value = ""; }
    }
  }

  function wireReferralForms() {
    var forms = document.querySelectorAll("form[data-referral-form]");
    var i, service, receivers;
    for (i = 0; i < forms.length; i += 1) {
      service = forms[i].querySelector("select[name='service']");
      receivers = forms[i].querySelector("select[name='to_institution']");
      if (!service || !receivers) { continue; }
      (function (s, r) {
        s.addEventListener("change", function () { filterReceivers(s, r); });
        filterReceivers(s, r);
      }(service, receivers));
    }
  }

  function start() {
    wireReferralForms();
    focusFirstError();
    // Chromium clears the focus when it scrolls to the address's #section (a section is
    // not focusable), once the page has loaded: give it back to the errors then.
    function refocus() {
      if (!document.activeElement || document.activeElement === document.body) {
        focusFirstError();
      }
    }
    window.addEventListener("load", function () {
      window.setTimeout(refocus, 0);
      window.setTimeout(refocus, 250);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
