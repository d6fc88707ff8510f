/* Ruta: small comforts only; every page works without this file.
 * After the idle time, the screen is cleared and the browser goes to the login page, so
 * a file left open on a shared office PC does not stay on screen. The server ends the
 * session on its own at the same time. */
(function () {
  "use strict";
  var body = document.body;
  var minutes = parseInt(body.getAttribute("data-idle-minutes"), 10);
  var loginUrl = body.getAttribute("data-logout-url");
  if (!minutes || !loginUrl) { return; }
  var timer = null;
  function clearScreen() {
    var main = document.getElementById("main");
    if (main) { main.textContent = ""; }
    window.location.replace(loginUrl);
  }
  function restart() {
    window.clearTimeout(timer);
    timer = window.setTimeout(clearScreen, minutes * 60 * 1000);
  }
  ["keydown", "mousedown", "touchstart", "scroll"].forEach(function (name) {
    window.addEventListener(name, restart, { passive: true });
  });
  restart();
}());
