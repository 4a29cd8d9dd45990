function [running, line] = bridge_serve(action, varargin)
%BRIDGE_SERVE  Start, stop or query the warm worker that makes every wrapper call faster.
%   BRIDGE_SERVE('start') starts `bridge serve` in the background and returns once it answers
%   (or at once, if one runs already): the first step of fast calls. Wrapper calls then skip
%   Python's start-up and imports, and, through the MEX client (built on first use in Octave, by
%   BRIDGE_SETUP once in MATLAB), the files too: the operands go to the worker from memory and
%   the result comes back as an array, so a small call costs about what system('true') does.
%   Without the MEX client a compiled client takes the file job to the worker without starting
%   Python. Jobs of several MATLAB processes run at once, up to one per core; results and errors
%   are the same as without it. The server ends after 1800 s without a call.
%   BRIDGE_SERVE('start', 'IdleTimeout', S) ends it after S seconds without a call (0: never).
%   BRIDGE_SERVE('stop') stops it.  BRIDGE_SERVE('status') says whether one runs.
%   BRIDGE_SERVE(..., 'Python', PYTHON) uses that interpreter (as the wrappers do).
%   [RUNNING, LINE] = BRIDGE_SERVE(...) returns whether a server runs afterwards (logical) and
%   its one-line report, and prints nothing.
%
%   To start it on the first wrapper call of a session instead, set the preference
%     setpref('bridge', 'autostart', true)          % or the environment variable BRIDGE_AUTOSTART=1
%     setpref('bridge', 'idletimeout', 3600)        % optional, seconds (default 1800)
%   A call that finds no server then starts one in the background and runs cold itself.
%
%   One server per user, on a private Unix socket (BRIDGE_SOCKET chooses another). Linux only:
%   elsewhere, and whenever the server is absent, frozen or refuses, the wrappers run cold.
%   BRIDGE_NO_SERVER=1 makes them ignore it.
%
%   Errors: bridge:badOption (unknown action or option), bridge:pythonNotFound.
%
%   See also BRIDGE_SETUP, BRIDGE_CONV, BRIDGE_CONV2, BRIDGE_CONVN, BRIDGE_DIAGNOSE.
if nargin < 1
  action = 'status';
end
[args, option] = bridge_options(varargin);
if ~bridge_istext(action) || ~any(strcmpi(char(action), {'start', 'stop', 'status'}))
  error('bridge:badOption', '%s', ...
    'bridge_serve: the action must be ''start'', ''stop'' or ''status''.');
end
action = lower(char(action));
idle = 1800;
if ispref('bridge', 'idletimeout')
  idle = double(getpref('bridge', 'idletimeout'));
end
while ~isempty(args)
  if numel(args) >= 2 && bridge_istext(args{1}) && strcmpi(char(args{1}), 'IdleTimeout') ...
      && isnumeric(args{2}) && isscalar(args{2}) && args{2} >= 0
    idle = double(args{2});
    args(1:2) = [];
  else
    error('bridge:badOption', '%s', ...
      'bridge_serve: the options are ''IdleTimeout'', SECONDS and ''Python'', PYTHON.');
  end
end
[python, source, problem] = bridge_python('bridge_serve', option);
if ~isempty(problem)
  error('bridge:pythonNotFound', '%s', problem);
end
% A Python that cannot be run is found by bridge_resolve_python's question (asked once per
% session, the wrappers ask it too), which shows no shell noise; the command would show it.
[~, status] = bridge_resolve_python(python);
if ~bridge_cannot_run(status)
  [status, output] = system(bridge_command(python, {'--serve', action, sprintf('%g', idle)}));
end
if bridge_cannot_run(status)
  error('bridge:pythonNotFound', '%s', sprintf( ...
    'bridge_serve: cannot run Python %s (from %s): exit status %d. %s', ...
    python, source, status, bridge_python_advice()));
end
lines = regexp(strtrim(output), '[\r\n]+', 'split');
text = strtrim(lines{end});
is_running = status == 0 && ~strcmp(action, 'stop');
if nargout > 0
  running = is_running;
  line = text;
else
  fprintf('%s\n', text);
end
end
