// The plain-JavaScript reference for `npm run bench`: the smallest honest script that does what
// reftrack's script-tag build does on a landing with the default options — read ps_partner_key /
// gspk (tolerant base64) and ps_xid / gsxid, validate, last-click, probe the broadest cookie domain,
// write the three cookies with their attributes, fill growsumo.data and run growsumoInit once. No
// signups, retry queue, options, Partnero or consent: its size is a floor, not a competitor.
(function (w, d) {
  var valid = /^[A-Za-z0-9._~@:+-]{1,128}$/;
  var query = new URLSearchParams(location.search);
  function first(names) {
    for (var i = 0; i < names.length; i++) if (query.has(names[i])) return query.get(names[i]);
    return null;
  }
  function decode(text) {
    try {
      var binary = atob(text.replace(/[ -]/g, '+').replace(/_/g, '/'));
      var bytes = Uint8Array.from(binary, function (c) { return c.charCodeAt(0); });
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      return null;
    }
  }
  function cookie(name) {
    var match = d.cookie.match('(?:^|; )' + name + '=([^;]*)');
    return match && valid.test(match[1]) ? match[1] : null;
  }
  function domain() {
    var host = location.hostname, labels = host.split('.');
    if (labels.length < 2 || /^[\d.]+$|:/.test(host)) return '';
    for (var i = labels.length - 2; i >= 0; i--) {
      var candidate = labels.slice(i).join('.');
      d.cookie = 'reftrack_probe=' + candidate + '; Path=/; Max-Age=10; Domain=' + candidate;
      if (cookie('reftrack_probe') === candidate) {
        d.cookie = 'reftrack_probe=; Path=/; Max-Age=0; Domain=' + candidate;
        return '; Domain=' + candidate;
      }
    }
    return '';
  }
  var encoded = first(['ps_partner_key', 'gspk']);
  var key = encoded === null ? null : decode(encoded);
  if (key && valid.test(key)) {
    var xid = first(['ps_xid', 'gsxid']);
    var attributes = '; Path=/; SameSite=Lax' + (location.protocol == 'https:' ? '; Secure' : '') + domain();
    var life = '; Max-Age=' + 90 * 86400 + attributes;
    d.cookie = 'growSumoPartnerKey=' + key + life;
    d.cookie = 'ps_partner_key=' + key + life;
    d.cookie = xid && valid.test(xid) ? 'ps_xid=' + xid + life : 'ps_xid=; Max-Age=0' + attributes;
  }
  var stored = cookie('growSumoPartnerKey') || cookie('ps_partner_key');
  var g = (w.growsumo = w.growsumo || {});
  g.data = { partner_key: stored, ps_partner_key: stored, ps_xid: stored && cookie('ps_xid') };
  var ran = false;
  function once(f) { return function () { if (!ran && typeof f == 'function') { ran = true; f(); } }; }
  g._initialize = function () { w.growsumoInit = once(w.growsumoInit); };
  setTimeout(function () { once(w.growsumoInit)(); }, 0);
})(window, document);
