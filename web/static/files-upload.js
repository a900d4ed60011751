/* The web drive's upload form, enhanced (files/_upload.html): files dropped anywhere
   on the folder's page join the form's files, and the form is sent with
   XMLHttpRequest so that a progress bar shows how much is sent. The answer is then
   shown as the plain form would show it: the folder after a redirect, or the page
   listing the refused files. Without this script the plain form does the same. */
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  var input = document.getElementById("upload-files");
  if (!form || !input || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var button = document.getElementById("upload-submit");
  var limit = parseInt(form.getAttribute("data-max-bytes") || "0", 10);
  var dropArea = document.querySelector("main") || document.body;

  var hint = document.createElement("p");
  hint.className = "hint drop-hint";
  hint.textContent = "You can also drop files anywhere on this page.";
  var progress = document.createElement("progress");
  progress.id = "upload-progress";
  progress.max = 1;
  progress.value = 0;
  progress.hidden = true;
  var status = document.createElement("p");
  status.id = "upload-status";
  status.className = "hint";
  status.setAttribute("role", "status");
  form.appendChild(hint);
  form.appendChild(progress);
  form.appendChild(status);

  function carriesFiles(event) {
    var types = event.dataTransfer ? event.dataTransfer.types : null;
    return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
  }

  /* The dropped files; a dropped folder cannot be sent by this form and is counted. */
  function droppedFiles(transfer) {
    var found = [];
    var folders = 0;
    var items = transfer.items;
    if (items) {
      for (var i = 0; i < items.length; i++) {
        if (items[i].kind !== "file") {
          continue;
        }
        var entry = items[i].webkitGetAsEntry ? items[i].webkitGetAsEntry() : null;
        if (entry && entry.isDirectory) {
          folders++;
          continue;
        }
        var file = items[i].getAsFile();
        if (file) {
          found.push(file);
        }
      }
    } else {
      found = Array.prototype.slice.call(transfer.files);
    }
    return { files: found, folders: folders };
  }

  function addFiles(added) {
    if (typeof DataTransfer === "undefined") {
      return false;
    }
    var merged = new DataTransfer();
    Array.prototype.forEach.call(input.files, function (f) { merged.items.add(f); });
    added.forEach(function (f) { merged.items.add(f); });
    input.files = merged.files;
    return true;
  }

  function totalBytes() {
    var total = 0;
    Array.prototype.forEach.call(input.files, function (f) { total += f.size; });
    return total;
  }

  function describeChoice() {
    var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
    status.textContent = names.length ? names.length + " file(s) chosen: " + names.join(", ") : "";
  }

  input.addEventListener("change", describeChoice);

  dropArea.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    form.classList.add("dropping");
  });
  dropArea.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget || !dropArea.contains(event.relatedTarget)) {
      form.classList.remove("dropping");
    }
  });
  dropArea.addEventListener("drop", function (event) {
    if (!carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    form.classList.remove("dropping");
    var dropped = droppedFiles(event.dataTransfer);
    if (!addFiles(dropped.files)) {
      status.textContent = "This browser cannot add dropped files to the form: choose them with the button.";
      return;
    }
    describeChoice();
    if (dropped.folders) {
      status.textContent += " (folders cannot be uploaded here: " + dropped.folders + " left out)";
    }
  });
  /* A file dropped next to the page must not replace it. */
  window.addEventListener("dragover", function (event) {
    if (carriesFiles(event)) { event.preventDefault(); }
  });
  window.addEventListener("drop", function (event) {
    if (carriesFiles(event)) { event.preventDefault(); }
  });

  /* Show ``html`` (a page of this site) as the browser would after a plain submit. */
  function showPage(html) {
    document.open();
    document.write(html);
    document.close();
  }

  function fail(message) {
    progress.hidden = true;
    button.disabled = false;
    status.textContent = message;
  }

  form.addEventListener("submit", function (event) {
    if (!input.files.length) {
      return;
    }
    event.preventDefault();
    if (limit && totalBytes() > limit) {
      fail("These files are larger together than the " + limit +
           " bytes one upload may hold; nothing was sent. Upload them in smaller groups.");
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        progress.max = e.total;
        progress.value = e.loaded;
        status.textContent = "Sending: " + Math.floor((100 * e.loaded) / e.total) + "%";
      }
    });
    xhr.addEventListener("load", function () {
      var sent = form.action.split("#")[0];
      if (xhr.status === 200 && xhr.responseURL && xhr.responseURL !== sent) {
        window.location.assign(xhr.responseURL); // redirected to the folder: stored
      } else {
        showPage(xhr.responseText); // the refusal, as the plain form shows it
      }
    });
    xhr.addEventListener("error", function () {
      fail("The upload did not reach the server (connection lost or refused); " +
           "nothing was stored. Try again.");
    });
    xhr.addEventListener("abort", function () {
      fail("The upload was stopped; nothing was stored.");
    });
    button.disabled = true;
    progress.value = 0;
    progress.hidden = false;
    status.textContent = "Sending…";
    xhr.send(new FormData(form));
  });
}());
