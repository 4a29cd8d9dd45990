function bridge_fail(caller, python, source, status, line, infile)
%BRIDGE_FAIL  Raise the error of a failed worker with MATLAB's or bridge's identifier.
% Raise the error of a failed worker: MATLAB's identifier when the worker's line ends with one
% in parentheses, else one derived from the exit status (documented in bridge --help).
id = '';
token = regexp(line, '\(([A-Za-z]\w*(?::\w+)+)\)$', 'tokens', 'once');
if ~isempty(token)
  id = token{1};
  line = strtrim(line(1:end - numel(id) - 2));
end
line = regexprep(line, '^bridge: error: ', '');
% The request file is ours, not the caller's: its name would only confuse.
if ~isempty(infile)
  line = strrep(line, [infile ': '], '');
end
if isempty(line)
  line = 'no message; bridge_diagnose may tell more';
end
where = sprintf('(Python %s from %s, exit status %d)', python, source, status);
% An error MATLAB itself raises reads as MATLAB's: no job-file variable, no interpreter.
matlabs = ~isempty(regexp(id, '^(MATLAB|images):', 'once'));
if matlabs
  line = regexprep(line, '^variable ''\w+'': ', '');
end
if bridge_cannot_run(status)
  id = 'bridge:pythonNotFound';
  reason = 'not found';
  if status == 126
    reason = 'not executable';
  end
  msg = sprintf('%s: cannot run Python %s (from %s): exit status %d, %s. %s', ...
    caller, python, source, status, reason, bridge_python_advice());
elseif status == 5
  id = 'bridge:pythonEnv';
  msg = sprintf('%s: %s %s. %s', caller, line, where, bridge_python_advice());
else
  if isempty(id)
    id = 'bridge:workerFailed';
  end
  if matlabs
    msg = sprintf('%s: %s', caller, line);
  else
    msg = sprintf('%s: %s %s', caller, line, where);
  end
end
error(id, '%s', msg);
end
