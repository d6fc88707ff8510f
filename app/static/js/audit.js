/* The supervisors' audit page: after a filter with a mistake, the focus goes to the field
 * to correct. The form sends the browser to the list's anchor (#eventos), and a page opened
 * at an anchor gives `autofocus` no effect and moves the focus to the anchor once loaded;
 * so the field is focused after that. Without this file the error still shows at the
 * anchor, right under the field. */
(function () {
  "use strict";
  function focusField() {
    var field = document.querySelector("[data-focus-on-load]");
    if (field && typeof field.focus === "function") { field.focus(); }
  }
  if (document.readyState === "complete") {
    window.setTimeout(focusField, 0);
  } else {
    window.addEventListener("load", function () { window.setTimeout(focusField, 0); });
  }
}());
