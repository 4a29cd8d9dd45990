function B = bridge_gauss(caller, op, varargin_of_caller)
%BRIDGE_GAUSS  The body of bridge_imgaussfilt and bridge_imgaussfilt3: sigma and the name-value
%   pairs as the job's settings (sigma, FilterSize, Padding, FilterDomain).
[args, python] = bridge_options(varargin_of_caller);
bridge_nargs(args, 1, 8);
settings = struct();
rest = args(2:end);
if ~isempty(rest) && ~bridge_istext(rest{1})
  settings.sigma = rest{1};
  rest = rest(2:end);
end
names = {'FilterSize', 'Padding', 'FilterDomain'};
if mod(numel(rest), 2)
  error(sprintf('images:%s:invalidNameValue', op), '%s', ...
    'Name-value arguments must come in pairs.');
end
for k = 1:2:numel(rest)
  if ~bridge_istext(rest{k})
    error(sprintf('images:%s:invalidNameValue', op), '%s', ...
      'Expected a parameter name (''FilterSize'', ''Padding'', ''FilterDomain'').');
  end
  given = char(rest{k});
  hits = find(strncmpi(given, names, numel(given)));
  if isempty(given) || isempty(hits)
    error(sprintf('images:%s:unknownParamName', op), '%s', ...
      sprintf('Unknown parameter ''%s''; must be FilterSize, Padding or FilterDomain.', given));
  end
  value = rest{k + 1};
  if bridge_istext(value)
    value = char(value);
  end
  settings.(names{hits(1)}) = value;
end
B = bridge_call(caller, op, {'A'}, args(1), settings, python);
end
