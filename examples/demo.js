// Demo page glue: "Why this?" buttons, "Forget me", and a status line. Text only, no HTML strings.
(function () {
  var box = document.getElementById('why-box');
  var status = document.getElementById('status');

  function whenReady(fn) {
    if (window.attnflow && !Array.isArray(window.attnflow)) fn(window.attnflow);
    else addEventListener('attnflow:ready', function (e) { fn(e.detail); }, { once: true });
  }

  whenReady(function (af) {
    af.on('personalized', function (report) {
      var c = report.containers[0];
      if (!status) return;
      status.textContent =
        'Personalized on this device from ' + (report.source === 'model' ? 'the attention model' : 'your topic affinities') +
        ' · ' + report.attended + ' items read so far' +
        (c ? ' · top topics of “' + c.key + '”: ' + (c.diversity.topics.join(', ') || '–') : '') +
        (c && c.explored ? ' · exploring “' + c.explored + '”' : '');
    });
  });

  document.addEventListener('click', function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var why = target.closest('[data-why]');
    if (why && box) {
      event.preventDefault();
      whenReady(function (af) {
        af.explain(why.getAttribute('data-why')).then(function (e) {
          if (!e) return;
          box.replaceChildren();
          var title = document.createElement('strong');
          title.textContent = 'Why am I seeing this?';
          box.appendChild(title);
          var list = document.createElement('ul');
          e.because.forEach(function (reason) {
            var li = document.createElement('li');
            li.textContent = reason;
            list.appendChild(li);
          });
          box.appendChild(list);
          box.hidden = false;
        });
      });
      return;
    }
    if (target.id === 'forget') {
      whenReady(function (af) {
        af.forget().then(function () {
          if (status) status.textContent = 'Everything attnflow kept on this device is deleted.';
        });
      });
    }
    if (box && !box.contains(target)) box.hidden = true;
  });
})();
