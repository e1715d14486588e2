/* Assessments: the draft page saves itself as the assessor goes.
 *
 * The form marked data-autosave (its value: the autosave URL) is sent, two
 * seconds after the last change, with fetch and "Accept: application/json".
 * The answer names the draft's new version, which goes into every
 * [data-version] field, and says when it was saved, in the partnership's time
 * zone; the [data-autosave-status] line (role=status) says so in words.
 *
 * - 409: someone else saved in between. Saving stops, the entries stay on the
 *   page, a copy goes to this tab's sessionStorage, and [data-autosave-conflict]
 *   explains what to do. After a reload, [data-autosave-restore] offers to
 *   put the copy back into the form (fields left empty in the copy keep the
 *   saved value) or to discard it.
 * - No answer (offline): tries again later, waiting longer each time.
 * - 422: says the draft was not saved; "Save draft" shows why, field by field.
 * - 403, 404, 428: stops; a reload shows why.
 *
 * Without JavaScript (or fetch) nothing of this runs and the page's buttons
 * save the whole form. Every text comes from the page (data-* attributes), in
 * the reader's language.
 */
(function () {
  "use strict";

  var DELAY = 2000;
  var RETRY_FIRST = 5000;
  var RETRY_MAX = 60000;

  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) { return; }

  var url = form.getAttribute("data-autosave");
  var status = document.querySelector("[data-autosave-status]");
  var conflictBox = document.querySelector("[data-autosave-conflict]");
  var restoreBox = document.querySelector("[data-autosave-restore]");
  var progress = document.querySelector("[data-progress]");
  var key = "prepare-assessment-" + form.getAttribute("data-assessment");
  var SKIP = { csrfmiddlewaretoken: true, version: true, op: true };

  var timer = null;
  var inFlight = false;
  var again = false;      // a change came while a save was on its way
  var stopped = false;
  var retryDelay = RETRY_FIRST;
  var submitter = null;   // a button pressed while a save was on its way

  function text(name) { return status ? status.getAttribute("data-" + name) || "" : ""; }

  function say(message, state) {
    if (!status) { return; }
    status.textContent = message;
    status.setAttribute("data-state", state);
  }

  function entries() {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (!SKIP[name] && typeof value === "string") { pairs.push([name, value]); }
    });
    return pairs;
  }

  function keepCopy() {
    try { window.sessionStorage.setItem(key, JSON.stringify(entries())); } catch (e) { /* full or off */ }
  }

  function dropCopy() {
    try { window.sessionStorage.removeItem(key); } catch (e) { /* off */ }
  }

  function setVersion(version) {
    document.querySelectorAll("[data-version]").forEach(function (field) {
      field.value = String(version);
    });
  }

  function countRated() {
    if (!progress) { return; }
    var items = form.querySelectorAll("[data-item]");
    var rated = 0;
    items.forEach(function (item) {
      if (item.querySelector("[data-presence] input:checked")) { rated += 1; }
    });
    progress.textContent = progress.getAttribute("data-template")
      .replace("{rated}", String(rated)).replace("{total}", String(items.length));
  }

  function stop(state, message) {
    stopped = true;
    clearTimeout(timer);
    say(message, state);
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(save, delay);
  }

  function changed() {
    countRated();
    if (stopped) { keepCopy(); return; }
    say(text("pending"), "pending");
    schedule(DELAY);
  }

  function finished() {
    inFlight = false;
    if (submitter !== null) {
      var button = submitter;
      submitter = null;
      stopped = true;  // the page is being left: the form's own save follows
      form.requestSubmit(button);
      return;
    }
    if (again && !stopped) { again = false; schedule(0); }
  }

  function answered(response) {
    return response.json().catch(function () { return {}; }).then(function (data) {
      if (response.ok) {
        setVersion(data.version);
        retryDelay = RETRY_FIRST;
        dropCopy();
        say(data.message || "", "saved");
      } else if (response.status === 409) {
        keepCopy();
        stop("conflict", data.message || "");
        if (conflictBox) { conflictBox.hidden = false; }
      } else if (response.status === 422) {
        keepCopy();
        say(text("failed"), "error");
      } else if (response.status >= 500) {
        keepCopy();
        say(text("offline"), "offline");
        schedule(retryDelay);
        retryDelay = Math.min(retryDelay * 2, RETRY_MAX);
      } else {
        keepCopy();
        stop("refused", text("refused"));
      }
      finished();
    });
  }

  function save() {
    if (stopped) { return; }
    if (inFlight) { again = true; return; }
    inFlight = true;
    again = false;
    say(text("saving"), "saving");
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    }).then(answered, function () {
      keepCopy();
      say(text("offline"), "offline");
      schedule(retryDelay);
      retryDelay = Math.min(retryDelay * 2, RETRY_MAX);
      finished();
    });
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", function (event) {
    clearTimeout(timer);
    if (inFlight) {
      // Wait for the save on its way: its new version goes with the form.
      event.preventDefault();
      submitter = event.submitter || null;
      if (submitter === null) { submitter = form.querySelector("button[type=submit]"); }
      return;
    }
    stopped = true;
    dropCopy();
  });

  // --- Entries kept from before a reload ------------------------------------------

  function restore(pairs) {
    pairs.forEach(function (pair) {
      var name = pair[0];
      var value = pair[1];
      if (!value) { return; }
      var fields = form.querySelectorAll("[name=\"" + name.replace(/["\\]/g, "\\$&") + "\"]");
      fields.forEach(function (field) {
        if (field.type === "radio" || field.type === "checkbox") {
          field.checked = field.value === value;
        } else {
          field.value = value;
        }
      });
    });
    countRated();
    schedule(0);
  }

  var kept = null;
  try { kept = window.sessionStorage.getItem(key); } catch (e) { kept = null; }
  if (kept && restoreBox) {
    restoreBox.hidden = false;
    restoreBox.addEventListener("click", function (event) {
      var choice = event.target.getAttribute("data-restore");
      if (!choice) { return; }
      restoreBox.hidden = true;
      if (choice === "yes") {
        try { restore(JSON.parse(kept)); } catch (e) { /* a damaged copy is dropped */ }
      }
      dropCopy();
    });
  }
  countRated();
}());
