function bridge_nargs(args, low, high)
%BRIDGE_NARGS  MATLAB's own errors for too few or too many arguments to a wrapper.
if numel(args) < low
  error('MATLAB:minrhs', '%s', 'Not enough input arguments.');
elseif numel(args) > high
  error('MATLAB:maxrhs', '%s', 'Too many input arguments.');
end
end
