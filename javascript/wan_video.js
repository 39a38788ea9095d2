// Wan Video for WebUI: the WebUI loads every file in javascript/ into its page.
// Live progress and preview polling for the Wan Video tab go here once the tab exists (the
// WebUI-extension issue); the WebUI requires the folder, so the file is present and valid now.
