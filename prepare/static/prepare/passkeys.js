/* Passkeys: runs the browser's WebAuthn ceremony for a form and posts its answer.
 *
 * A form marked data-passkey="create" (add a passkey) or "get" (sign in with
 * one) names the JSON data block holding the server's options in
 * data-options. Its [data-passkey-start] button asks the browser, puts the
 * answer (JSON, binary fields as base64url) into the form's "answer" field
 * and submits the form; the server checks everything. Without WebAuthn the
 * button stays hidden and the [data-passkey-unsupported] text stays shown.
 */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(options) {
    return Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      user: Object.assign({}, options.user, { id: toBytes(options.user.id) }),
      excludeCredentials: withIds(options.excludeCredentials)
    });
  }

  function requestOptions(options) {
    return Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      allowCredentials: withIds(options.allowCredentials)
    });
  }

  function answerOf(credential) {
    var response = credential.response;
    var answer = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      answer.response.attestationObject = toText(response.attestationObject);
      answer.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      answer.response.authenticatorData = toText(response.authenticatorData);
      answer.response.signature = toText(response.signature);
      if (response.userHandle) { answer.response.userHandle = toText(response.userHandle); }
    }
    return answer;
  }

  function start(form, button) {
    var status = form.querySelector("[data-passkey-status]");
    if (form.dataset.passkey === "create" && !form.reportValidity()) { return; }
    var options = JSON.parse(document.getElementById(form.dataset.options).textContent);
    var ask = form.dataset.passkey === "create"
      ? navigator.credentials.create({ publicKey: creationOptions(options) })
      : navigator.credentials.get({ publicKey: requestOptions(options) });
    button.disabled = true;
    if (status) { status.textContent = button.dataset.waiting || ""; }
    ask.then(function (credential) {
      form.querySelector("input[name=answer]").value = JSON.stringify(answerOf(credential));
      form.submit();
    }).catch(function () {
      button.disabled = false;
      if (status) { status.textContent = button.dataset.failed || ""; }
    });
  }

  function setUp() {
    if (!window.PublicKeyCredential || !navigator.credentials) { return; }
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      var button = form.querySelector("[data-passkey-start]");
      var unsupported = form.querySelector("[data-passkey-unsupported]");
      if (!button) { return; }
      if (unsupported) { unsupported.hidden = true; }
      button.hidden = false;
      button.addEventListener("click", function () { start(form, button); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
