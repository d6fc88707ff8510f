/* Ruta: small comforts only; every page works without this file.
 *
 * The session follows the person. While she types or clicks, the page tells the server
 * (POST /session/ping, at most once a minute): a long intake typed without a request
 * does not end her session. Two minutes before the idle end a dialog warns her, and
 * "Seguir trabajando" keeps the session. At the end the page's content leaves the
 * document (a shared office PC shows nothing of the survivor) but stays in this page's
 * memory, never in storage; she signs in again on the panel shown instead, and the page
 * comes back as she left it, every field as typed. Someone else signing in there gets
 * her own dashboard, never the draft. Before it warns or locks, a tab asks the server
 * (GET /session/status, which does not use the session): work in another tab counts.
 * ES5, no library: the office PCs are old. */
(function () {
  "use strict";
  var body = document.body;
  var urls = {
    ping: body.getAttribute("data-session-ping"),
    status: body.getAttribute("data-session-status"),
    login: body.getAttribute("data-session-login"),
    home: body.getAttribute("data-session-home")
  };
  if (!urls.ping || !urls.status || !urls.login || !urls.home || !window.XMLHttpRequest) {
    return;
  }
  var SECOND = 1000;
  var RECHECK_WHILE_WARNING = 15 * SECOND; // another tab may have kept the session
  var user = body.getAttribute("data-session-user");
  var warnMs = number("data-session-warn", 120) * SECOND;
  var pingEveryMs = number("data-session-ping-every", 60) * SECOND;
  var deadline = now() + number("data-session-left", 0) * SECOND;
  var lastPing = now();
  var pingTimer = null;
  var pinging = false;
  var asking = false;
  var lastAsked = 0;
  var warning = null; // the dialog while shown
  var lock = null; // the sign-in panel while shown
  var stash = null; // the page's content, out of the document while locked
  var before = null; // focus, scroll and title to give back
  var csrf = firstCsrfToken();

  function now() { return new Date().getTime(); }

  function number(name, fallback) {
    var value = parseInt(body.getAttribute(name), 10);
    return isNaN(value) ? fallback : value;
  }

  function firstCsrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function request(method, url, data, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    xhr.setRequestHeader("Accept", "application/json, text/html");
    if (method === "POST") {
      xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
      xhr.setRequestHeader("X-CSRFToken", csrf);
    }
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) { done(xhr); }
    };
    xhr.send(data);
  }

  function json(xhr) {
    try { return JSON.parse(xhr.responseText); } catch (e) { return null; }
  }

  function pathOf(url) {
    var a = document.createElement("a");
    a.href = url;
    return a.pathname.charAt(0) === "/" ? a.pathname : "/" + a.pathname;
  }

  // ---- what the server says of the session ------------------------------------------

  /* `state` is the JSON of /session/status or /session/ping, or null when the server
   * could not be reached. Her own live session: carry on (and come back if locked);
   * another user's: this page is not theirs; none: lock. */
  function follow(state, lockWhenUnknown) {
    if (!state) {
      if (lockWhenUnknown) { showLock(); }
      return;
    }
    if (state.csrf_token) { renewCsrf(state.csrf_token); }
    if (!state.live || state.seconds_left <= 0) {
      showLock();
    } else if (String(state.user) !== user || state.restricted) {
      leave();
    } else {
      deadline = now() + state.seconds_left * SECOND;
      if (lock) { hideLock(); }
      if (deadline - now() > warnMs) { hideWarning(); }
    }
  }

  /* Ask the server, without using the session, then follow its answer; `then` runs
   * after that (the page may be locked by then). */
  function ask(lockWhenUnknown, then) {
    if (asking) { return; }
    asking = true;
    lastAsked = now();
    request("GET", urls.status, null, function (xhr) {
      asking = false;
      follow(xhr.status === 200 || xhr.status === 401 ? json(xhr) : null, lockWhenUnknown);
      if (then) { then(); }
    });
  }

  function ping() {
    window.clearTimeout(pingTimer);
    pingTimer = null;
    if (pinging || lock) { return; }
    pinging = true;
    lastPing = now();
    request("POST", urls.ping, "", function (xhr) {
      pinging = false;
      if (xhr.status === 200) {
        follow(json(xhr), false);
      } else if (xhr.status === 401) {
        showLock();
      } else if (xhr.status === 400) {
        ask(false); // a token renewed by a sign-in in another tab: fetch it
      }
    });
  }

  /* A key, a click, a scroll: her session is in use. One ping at most every
   * `pingEveryMs`; activity in between is carried by the next one. */
  function activity(event) {
    // Keys in the warning are its own (Tab stays, Enter and Esc answer it).
    var target = event.target;
    if (lock || (warning && target && target.nodeType && warning.contains(target))) { return; }
    var since = now() - lastPing;
    if (since >= pingEveryMs) {
      ping();
    } else if (!pingTimer) {
      pingTimer = window.setTimeout(ping, pingEveryMs - since);
    }
  }

  function tick() {
    if (lock || asking) { return; }
    var left = deadline - now();
    if (left <= 0) {
      ask(true);
    } else if (left <= warnMs && (!warning || now() - lastAsked >= RECHECK_WHILE_WARNING)) {
      ask(false, function () {
        if (!lock && deadline - now() <= warnMs) { showWarning(); }
      });
    }
  }

  function renewCsrf(token) {
    csrf = token;
    var scopes = [document];
    if (stash) { scopes.push(stash); }
    for (var s = 0; s < scopes.length; s++) {
      var inputs = scopes[s].querySelectorAll("input[name=csrf_token]");
      for (var i = 0; i < inputs.length; i++) { inputs[i].value = token; }
    }
  }

  /* Another user's session, or one still to set up: this page and what was typed on
   * it are dropped, and she starts from her own dashboard. */
  function leave() {
    stash = null;
    window.location.replace(urls.home);
  }

  // ---- the warning -------------------------------------------------------------------

  function fromTemplate(id) {
    var template = document.getElementById(id);
    if (!template) { return null; }
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML;
    return holder.firstElementChild;
  }

  function showWarning() {
    if (warning || lock) { return; }
    warning = fromTemplate("session-warning-template");
    if (!warning) { return; }
    var back = document.activeElement;
    warning.returnFocus = back;
    body.appendChild(warning);
    var button = warning.querySelector("button");
    button.addEventListener("click", keepWorking);
    warning.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") {
        event.preventDefault();
        keepWorking();
      } else if (event.key === "Tab") {
        event.preventDefault(); // one button: the focus stays on it
        button.focus();
      }
    });
    button.focus();
  }

  function hideWarning() {
    if (!warning) { return; }
    var back = warning.returnFocus;
    warning.parentNode.removeChild(warning);
    warning = null;
    if (back && back.focus && document.documentElement.contains(back)) { back.focus(); }
  }

  function keepWorking() {
    hideWarning();
    ping();
  }

  // ---- the lock ----------------------------------------------------------------------

  function showLock() {
    if (lock) { return; }
    hideWarning();
    lock = fromTemplate("session-lock-template");
    if (!lock) { window.location.replace(urls.home); return; }
    before = {
      focus: document.activeElement,
      x: window.pageXOffset,
      y: window.pageYOffset,
      title: document.title
    };
    // Out of the document, not merely hidden: neither the screen, nor find-in-page,
    // nor the accessibility tree shows what the page held. The templates stay.
    stash = document.createDocumentFragment();
    var nodes = [];
    for (var i = 0; i < body.childNodes.length; i++) {
      var node = body.childNodes[i];
      if (node.nodeName !== "TEMPLATE" && node.nodeName !== "SCRIPT") { nodes.push(node); }
    }
    for (var j = 0; j < nodes.length; j++) { stash.appendChild(nodes[j]); }
    document.title = lock.getAttribute("data-title");
    body.insertBefore(lock, body.firstChild);
    window.scrollTo(0, 0);
    lock.querySelector("form").addEventListener("submit", signIn);
    lock.querySelector("input[name=username]").focus();
  }

  function hideLock() {
    body.insertBefore(stash, lock);
    lock.parentNode.removeChild(lock);
    lock = null;
    stash = null;
    document.title = before.title;
    window.scrollTo(before.x, before.y);
    var back = before.focus;
    if (back && back !== body && back.focus && document.documentElement.contains(back)) {
      back.focus();
    } else {
      var main = document.getElementById("main");
      if (main) { main.focus(); }
    }
    before = null;
    lastPing = now();
  }

  function lockError(message) {
    var box = lock.querySelector("#session-lock-error");
    box.textContent = message;
    box.hidden = false;
    lock.querySelector("input[name=password]").value = "";
    lock.querySelector("input[name=otp]").value = "";
    lock.querySelector("input[name=password]").focus();
  }

  /* The real login (POST /login: its rate limits, lockout, audit and code checks),
   * asked to return to /session/status; what it answers decides. */
  function signIn(event) {
    event.preventDefault();
    var form = event.target;
    var button = form.querySelector("button[type=submit]");
    var fields = ["username", "password", "otp"];
    button.disabled = true;
    // A fresh token first: the ended session's may be gone with it.
    request("GET", urls.status, null, function (first) {
      var state = first.status === 200 || first.status === 401 ? json(first) : null;
      if (!state) {
        button.disabled = false;
        lockError(lock.getAttribute("data-offline"));
        return;
      }
      csrf = state.csrf_token;
      var data = ["csrf_token=" + encodeURIComponent(csrf)];
      for (var i = 0; i < fields.length; i++) {
        var value = form.querySelector("input[name=" + fields[i] + "]").value;
        data.push(fields[i] + "=" + encodeURIComponent(value));
      }
      request("POST", urls.login, data.join("&"), function (xhr) {
        if (button) { button.disabled = false; }
        signedIn(xhr);
      });
    });
  }

  function signedIn(xhr) {
    var landed = xhr.responseURL ? pathOf(xhr.responseURL) : "";
    if (xhr.status === 200 && landed === pathOf(urls.status)) {
      follow(json(xhr), false);
    } else if (xhr.status === 200 && landed && landed !== pathOf(urls.login)) {
      // Signed in, but sent elsewhere: already signed in in another tab, or the
      // first-login setup. The session's own state decides.
      request("GET", urls.status, null, function (again) {
        var state = json(again);
        if (state && state.live && String(state.user) === user && !state.restricted) {
          follow(state, false);
        } else if (state && state.live) {
          window.location.replace(landed);
        } else {
          lockError(lock.getAttribute("data-refused"));
        }
      });
    } else if (xhr.status === 0) {
      lockError(lock.getAttribute("data-offline"));
    } else {
      lockError(refusal(xhr.responseText) || lock.getAttribute("data-refused"));
    }
  }

  /* The login page's own words for a refusal (wrong code, too many attempts…). */
  function refusal(html) {
    if (!window.DOMParser || !html) { return ""; }
    var page = new DOMParser().parseFromString(html, "text/html");
    var box = page.querySelector("main .error-box") || page.querySelector("main .error");
    return box ? box.textContent.replace(/\s+/g, " ").trim() : "";
  }

  /* A form sent after the end would land on the login page and lose what she typed:
   * the panel comes instead, and she sends it once signed in again. */
  function beforeSubmit(event) {
    if (lock || now() < deadline) { return; }
    event.preventDefault();
    var form = event.target;
    var submitter = event.submitter || null;
    ask(true, function () {
      if (lock || now() >= deadline) { return; }
      // The session lived on (work in another tab): send it as she asked.
      if (!form.requestSubmit) {
        form.submit();
      } else if (submitter) {
        form.requestSubmit(submitter);
      } else {
        form.requestSubmit();
      }
    });
  }

  // ---- wiring --------------------------------------------------------------------------

  var events = ["keydown", "input", "mousedown", "touchstart", "scroll", "wheel"];
  for (var e = 0; e < events.length; e++) {
    window.addEventListener(events[e], activity, { capture: true, passive: true });
  }
  document.addEventListener("submit", beforeSubmit, true);
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { return; }
    if (lock) { ask(false); } else { tick(); }
  });
  window.setInterval(tick, SECOND);
}());
