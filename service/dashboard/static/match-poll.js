// Follows a match request while the matching worker answers it: reads its status every 1.5 s,
// says how it is going in the page's live region (screen readers hear it), and opens the
// suggestions once it is done. Without JavaScript the page's "Check again" link does the same.
(function () {
  "use strict";

  var INTERVAL_MS = 1500;
  // Matching takes seconds; after this long a worker is likely busy or down, and polling on
  // would only keep a phone awake. The notification still arrives when it is done.
  var GIVE_UP_AFTER_MS = 2 * 60 * 1000;

  var region = document.getElementById("match-progress");
  var message = document.getElementById("match-progress-message");
  if (!region || !message || !window.fetch) {
    return;
  }
  var statusUrl = region.getAttribute("data-status-url");
  var doneUrl = region.getAttribute("data-done-url");
  var started = Date.now();

  function say(text) {
    // Only real changes: repeating the same words would make screen readers repeat them too.
    if (text && text !== message.textContent) {
      message.textContent = text;
    }
  }

  function checkLater() {
    if (Date.now() - started > GIVE_UP_AFTER_MS) {
      say("This is taking longer than usual. We will leave a note in your notifications " +
          "when your suggestions are ready.");
      return;
    }
    window.setTimeout(check, INTERVAL_MS);
  }

  function check() {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        say(state.message);
        if (state.status === "done") {
          window.location.assign(doneUrl);
        } else if (state.status !== "failed") {
          checkLater();
        }
      })
      .catch(function () {
        say("We could not check just now. Use \u201cCheck again\u201d below.");
      });
  }

  checkLater();
})();
