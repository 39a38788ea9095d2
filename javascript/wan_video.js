// Wan Video for WebUI: the WebUI loads every file in javascript/ into its page (the standalone
// server's page gets it too). Gradio refreshes the tab's progress text once a second; this
// script drives the progress bar (#wan_progress_bar) and the page title between those updates
// by polling the job's REST endpoint, so progress reads smoothly even when Gradio's own polling
// is slow (gradio 3.41 inside A1111 queues it behind other events).
(function () {
    "use strict";
    var POLL_MS = 700;
    var API = "/wan/v1/jobs/";
    var JOB_ID = /^[0-9a-f]{32}$/;
    var baseTitle = null;

    function root() {
        // inside the WebUI everything lives under gradioApp(); standalone it is the document
        return typeof gradioApp === "function" ? gradioApp() : document;
    }

    function currentJob() {
        var box = root().querySelector("#wan_job_id textarea, #wan_job_id input");
        var value = box ? box.value.trim() : "";
        return JOB_ID.test(value) ? value : null;
    }

    function fraction(job) {
        var p = job.progress || {};
        if (job.state === "succeeded") return 1;
        if (!p.clips || !p.steps) return 0;
        var clip = Math.min(p.clip || 0, p.clips - 1);
        return Math.min(1, (clip + (p.step || 0) / p.steps) / p.clips);
    }

    function show(job) {
        var bar = root().querySelector("#wan_progress_bar");
        var done = fraction(job);
        if (bar) {
            bar.value = done;
            bar.setAttribute("data-state", job.state);
        }
        if (baseTitle === null) baseTitle = document.title;
        document.title = job.state === "running" ? "[" + Math.round(done * 100) + "%] " + baseTitle : baseTitle;
    }

    function poll() {
        var job = currentJob();
        if (!job) return schedule();
        fetch(API + job, { credentials: "same-origin" })
            .then(function (response) {
                return response.ok ? response.json() : null;  // 401 (auth on) or 404: leave it to Gradio
            })
            .then(function (data) {
                if (data) show(data);
            })
            .catch(function () {})
            .then(schedule);
    }

    function schedule() {
        window.setTimeout(poll, POLL_MS);
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", schedule);
    } else {
        schedule();
    }
})();
