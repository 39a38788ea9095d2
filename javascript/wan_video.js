// Wan Video for WebUI: the WebUI loads every file in javascript/ into its page (the standalone
// server's page gets it too). The tab's own updates (once a second) redraw the progress bar
// (#wan_progress_bar, with data-state and data-percent); this script only puts the percentage in
// the page title while a job runs, reading the bar from the page: it makes no request of its
// own, so it works the same whatever credentials the server asks for.
(function () {
    "use strict";
    var POLL_MS = 700;
    var baseTitle = null;

    function root() {
        // inside the WebUI everything lives under gradioApp(); standalone it is the document
        return typeof gradioApp === "function" ? gradioApp() : document;
    }

    function update() {
        var bar = root().querySelector("#wan_progress_bar");
        if (baseTitle === null) baseTitle = document.title;
        var running = bar && bar.getAttribute("data-state") === "running";
        document.title = running ? "[" + bar.getAttribute("data-percent") + "%] " + baseTitle : baseTitle;
        window.setTimeout(update, POLL_MS);
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", update);
    } else {
        update();
    }
})();
